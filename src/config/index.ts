// The configuration face: trellisd settings (file < TRELLIS_* env < flags) and trellisctl's.
export { loadDaemonConfig, ConfigError, DEFAULT_CONFIG_FILE } from './load.js';
export type { LoadOptions, LoadedConfig } from './load.js';
export { FIELDS, FIELD_NAMES, envVarFor } from './fields.js';
export type { DaemonConfig, FieldName } from './fields.js';
export { loadClientConfig, storeConfigOf } from './client.js';
export type { ClientConfig, ClientFlags } from './client.js';
