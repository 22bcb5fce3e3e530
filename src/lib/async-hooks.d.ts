// workerd's node:async_hooks (nodejs_compat); @cloudflare/workers-types does not declare Node modules.
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, callback: () => R): R;
    getStore(): T | undefined;
  }
}
