/** A 4xx/5xx answer: `detail` is the API's `{"detail": ...}`, meant to be shown to a person. */
export class VingineError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail)
    this.name = 'VingineError'
  }
}
