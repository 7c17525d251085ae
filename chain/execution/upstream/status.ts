/** Whether one ethereumjs patch is in effect, and if not, why it stayed out. */
export type PatchStatus = { active: true } | { active: false; reason: string }
