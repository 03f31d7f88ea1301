export { ApiError, type ApiErrorBody, type ApiErrorType } from './api-error.js';
export { parseChatRequest, type ChatRequest } from './chat-request.js';
export { parseDataUrl, checkImageHeader, resolveImage, type ImageLimits, type CheckedImage } from './image-input.js';
export { chooseStrategy, REPORT_KEYS, type StrategyOptionKey, type StrategyChoice } from './strategy-options.js';
export { RequestScheduler, type SchedulerLimits } from './scheduler.js';
export { prepareCompletion, runCompletion, type CompletionReport, type CompletionResult, type CompletionSettings, type ReductionReporting } from './completion.js';
export { createServer, VisdropServer, type ServerOptions, type ServerStats } from './server.js';
