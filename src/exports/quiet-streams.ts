import util from "node:util";

// workerd's util.debuglog logs every section unconditionally (Node logs only the sections named in
// NODE_DEBUG). The stream library under exceljs's zip writer debug-logs every read and write, which
// would print thousands of lines per export; give it Node's default: silent.
util.debuglog = () => Object.assign(() => {}, { enabled: false });
