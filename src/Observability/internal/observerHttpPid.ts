/**
 * Pids as they appear in `/observer/process/<pid>`: the printed form `<node.id.incarnation>`
 * (angle brackets optional, percent-encoded or not; the node name may itself contain dots, as in
 * `a@127.0.0.1`).
 *
 * @internal
 */
import * as Pid from "../../Process/Pid.ts"

const printed = /^<?(.+)\.(\d{1,15})\.(\d{1,15})>?$/

/** The pid `text` prints, or `undefined` when it is not a pid's printed form. */
export const parsePid = (text: string): Pid.Pid | undefined => {
  const match = printed.exec(text.trim())
  if (match === null) return undefined
  const [, node, id, incarnation] = match
  const bracketed = text.trim().startsWith("<")
  if (bracketed !== text.trim().endsWith(">") || node!.includes("<") || node!.includes(">")) return undefined
  return Pid.make(node!, Number(id), Number(incarnation))
}
