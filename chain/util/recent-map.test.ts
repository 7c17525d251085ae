import t from 'tap'
import { setRecent } from './recent-map.ts'

t.test('a write makes its key the newest; the oldest goes past the bound', async (t) => {
  const map = new Map<string, number>()
  setRecent(map, 'a', 1, 2)
  setRecent(map, 'b', 2, 2)
  setRecent(map, 'a', 3, 2)
  t.same(
    [...map],
    [
      ['b', 2],
      ['a', 3],
    ],
    'rewriting a moves it last',
  )
  setRecent(map, 'c', 4, 2)
  t.same(
    [...map],
    [
      ['a', 3],
      ['c', 4],
    ],
    'the oldest (b) went',
  )
})
