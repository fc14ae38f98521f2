export { type CachedResponse, toCachedResponse } from "./entry.js";
export { CACHE_KEY_VERSION, cacheKey } from "./key.js";
export {
  type CacheHit,
  InvalidCacheOptionsError,
  ResponseCache,
  type ResponseCacheOptions,
} from "./response-cache.js";
