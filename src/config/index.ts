/**
 * The engine's configuration: every environment variable it reads, validated once at start-up and
 * passed down as typed values. Schema and documentation in `schema.ts`, loaders in `load.ts`.
 */
export { configSchema, groups, variableDocs, variableNames, type ConfigVariables, type Group, type Reader, type VariableDoc, type VariableName } from './schema';
export { catalogOptions, ConfigError, loadCliConfig, loadConfig, loadLocalRunConfig, parseEnvironment, signingKeySource, withheldFromCatalog, type CliConfig, type Config, type Environment, type LocalRunConfig } from './load';
export { exampleSecrets, isExampleSecret, productionSecretProblems } from './secrets';
