// Workflow barrel: the worker bundles this file; every export here is a workflow type.
export { erasureWorkflow } from './erasure-workflow';
