// The domain model: pure types, lists and schemas shared by the workflow, the API, the catalog and the CLI.
// No I/O here: workflow code imports it.
export * from './commands';
export * from './failures';
export * from './ids';
export * from './issues';
export * from './jurisdiction';
export * from './operator-actions';
export * from './plan';
export * from './request';
export * from './statuses';
export * from './subject';
export * from './events';
