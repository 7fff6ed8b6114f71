// The twin of poemnet/common/errors.py: a UserError's message is shown to the user as it is.
export class UserError extends Error {}
