import { inspect } from 'node:util';

const MASK = '[redacted]';

/**
 * A credential that never prints itself: `String(secret)`, `JSON.stringify` and
 * `util.inspect` all show `[redacted]`. Only {@link Secret.reveal} returns the value,
 * and only the child-process environment builder calls it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The real value. Pass it only to a child process's environment. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`. Applied to all
 * litestream output before it is logged or attached to an error.
 */
export function redact(text: string, secrets: readonly (Secret | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    const value = secret?.reveal();
    if (value && value.length > 0) result = result.split(value).join(MASK);
  }
  return result;
}
