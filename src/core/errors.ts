// The one error type Graft throws for anything a user can cause or fix: bad input, a lost device,
// out of memory. Its message is one line that names the problem.

export class GraftError extends Error {
  constructor(message: string) {
    super(`graft: ${message}`);
    this.name = 'GraftError';
  }
}
