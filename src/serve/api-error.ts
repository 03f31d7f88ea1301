// OpenAI's error object ({ error: { message, type, param, code } }) with the HTTP status that goes
// with it, so every refusal a client sees is one the `openai` libraries turn into the right class
// (BadRequestError, AuthenticationError, NotFoundError, RateLimitError, ...).
import { VisdropError } from '../errors.js';

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'service_unavailable';

export interface ApiErrorBody {
  readonly error: { readonly message: string; readonly type: ApiErrorType; readonly param: string | null; readonly code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    /** The request field at fault, e.g. `messages[0].content[1].image_url.url`. */
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming `param`: `param: expected ..., found ...`. */
export function invalidRequest(param: string, expected: string, found: string, code: string | null = null): ApiError {
  return new ApiError(400, 'invalid_request_error', `${param}: expected ${expected}, found ${found}`, param, code);
}

/**
 * Any error as an ApiError: a visdrop error is the client's input (400, naming `param` when known),
 * anything else a server fault (500, its message only; the stack goes to the log).
 */
export function toApiError(error: unknown, param: string | null = null): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof VisdropError) {
    const code = error.code === 'E_GRAPH' ? 500 : 400;
    return new ApiError(code, code === 500 ? 'server_error' : 'invalid_request_error', error.message, param, error.code);
  }
  return new ApiError(500, 'server_error', `internal error: ${(error as Error)?.message ?? String(error)}`);
}
