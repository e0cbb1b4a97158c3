/**
 * Construction of schema class instances from fields the runtime already trusts.
 *
 * Schema classes validate their input on construction, which costs about 4 µs: too much for values
 * made on every spawn, monitor or exit. The runtime builds them from fields it produced itself,
 * with the same prototype and own properties as validated construction.
 *
 * @internal
 */

/** The data fields of a class instance (its methods left out). */
type Fields<A> = { [K in keyof A as A[K] extends (...args: never) => unknown ? never : K]: A[K] }

export const trusted = <A extends object>(klass: abstract new (...args: never) => A, fields: Fields<A>): A =>
  Object.assign(Object.create(klass.prototype as object) as A, fields)
