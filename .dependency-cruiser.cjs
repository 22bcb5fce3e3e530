// The layer rules of docs/architecture.md, checked by `npm run lint`:
//   kernel (env.ts, db/, lib/) <- platform (auth/, audit/, events/, http/) <- domains <- entry points.
// Each layer imports only the layers below it; a domain reaches another domain only through that
// domain's entry file (index.ts); nothing imports in a circle (type-only imports included).
const DOMAINS = "activity|alerts|approvals|exports|logs|notifications|openapi|organizations|personal-api-keys|projects|sde|signup|users|viewer";
const KERNEL = ["^src/env\\.ts$", "^src/db/", "^src/lib/"];
const PLATFORM = ["^src/auth/", "^src/audit/", "^src/events/", "^src/http/"];
const DOMAIN = [`^src/(${DOMAINS})/`];
const ENTRY = ["^src/app\\.ts$", "^src/index\\.ts$", "^src/queues\\.ts$", "^src/scheduled/", "^src/approval-actions\\.ts$", "^src/export-kinds\\.ts$"];

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "Import circles make the layers meaningless.", from: {}, to: { circular: true } },
    {
      name: "kernel-imports-kernel-only",
      severity: "error",
      comment: "env.ts, db/ and lib/ are the bottom layer: they import no platform, domain or entry module.",
      from: { path: KERNEL },
      to: { path: [...PLATFORM, ...DOMAIN, ...ENTRY] },
    },
    {
      name: "platform-imports-no-domain",
      severity: "error",
      comment: "auth/, audit/, events/ and http/ serve every domain and know none of them.",
      from: { path: PLATFORM },
      to: { path: [...DOMAIN, ...ENTRY] },
    },
    {
      name: "domain-imports-no-entry-point",
      severity: "error",
      comment: "Domains are wired together by the entry points, never the other way round.",
      from: { path: DOMAIN },
      to: { path: ENTRY },
    },
    {
      name: "other-domains-through-their-entry-file",
      severity: "error",
      comment: "Import another domain through its index.ts, never its routers or internals.",
      from: { path: `^src/(${DOMAINS})/` },
      to: { path: `^src/(${DOMAINS})/`, pathNot: ["^src/$1/", `^src/(${DOMAINS})/index\\.ts$`] },
    },
    {
      name: "entry-points-use-domain-entry-files",
      severity: "error",
      comment: "Entry points wire domains through their index.ts as well.",
      from: { path: ENTRY },
      to: { path: `^src/(${DOMAINS})/`, pathNot: `^src/(${DOMAINS})/index\\.ts$` },
    },
    {
      // src/logs/gen/ (protoc-gen-es output, `npm run proto:generate`) is part of the logs domain, so the
      // rules above let logs/ import it; it must not reach back into the application.
      name: "generated-code-is-self-contained",
      severity: "error",
      comment: "Generated protobuf code imports only @bufbuild/protobuf and other generated files.",
      from: { path: "^src/logs/gen/" },
      to: { path: "^src/", pathNot: "^src/logs/gen/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, pathNot: ["^cloudflare:"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.d\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
  },
};
