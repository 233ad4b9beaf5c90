// The Docker face: trellisd serving libnetwork's remote NetworkDriver and IpamDriver
// (`docker network create -d trellis --ipam-driver trellis`), on the shared attach path.
export { startDockerPlugin, DEFAULT_DOCKER_SOCKET } from './server.js';
export type { DockerPluginOptions, DockerPluginServer } from './server.js';
export { createDriver, CONTAINER_LABEL, dockerPorts, endpointLabels, networkProfile, networkProfileName, NETWORK_LABEL } from './driver.js';
export type { Driver, DriverDeps, DriverReply, DockerStore } from './driver.js';
export { dockerEngine, DockerApiError } from './engine.js';
export type { ContainerInfo, DockerEngine, NetworkInfo } from './engine.js';
export { DockerPluginError, KNOWN_OPTIONS, OPT_NAMESPACE, OPT_PROFILES } from './protocol.js';
