export * from '../../contracts/generated/index.ts'
export * from './deploy.ts'
