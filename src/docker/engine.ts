// What the driver reads back from Docker's own API. libnetwork never tells a remote driver
// the container's name, its labels or the network's name, yet policy is written in those
// terms; Docker answers these two reads during Join without waiting on the container
// being started (the network's endpoint list and the container list are lock-free views).
import { request } from 'node:http';
import { TrellisError } from '../model/index.js';

export interface ContainerInfo { id: string; name: string; labels: Record<string, string> }
export interface NetworkInfo { name: string; container: ContainerInfo | null }

export interface DockerEngine {
  /** The network's name, and the container an endpoint of it belongs to (null: not found). */
  lookup(networkID: string, endpointID: string): Promise<NetworkInfo>;
}

export class DockerApiError extends TrellisError<'DOCKER_API'> {
  constructor(readonly socket: string, message: string) {
    super('DOCKER_API', `Docker API at ${socket}: ${message}`);
  }
}

const API = '/v1.41';

function get(socket: string, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: `${API}${path}`, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) { reject(new DockerApiError(socket, `GET ${path} answered ${res.statusCode}: ${text.trim()}`)); return; }
        try { resolve(JSON.parse(text)); } catch { reject(new DockerApiError(socket, `GET ${path} did not answer JSON`)); }
      });
    });
    req.on('timeout', () => req.destroy(new DockerApiError(socket, `GET ${path} took over ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof DockerApiError ? e : new DockerApiError(socket, e.message)));
    req.end();
  });
}

interface NetworkDoc { Name?: string; Containers?: Record<string, { Name?: string; EndpointID?: string }> }
interface ContainerDoc { Id: string; Names?: string[]; Labels?: Record<string, string> | null }

export function dockerEngine(socket: string, timeoutMs = 5000): DockerEngine {
  return {
    async lookup(networkID, endpointID) {
      const net = await get(socket, `/networks/${encodeURIComponent(networkID)}`, timeoutMs) as NetworkDoc;
      const name = net.Name ?? networkID.slice(0, 12);
      const ep = Object.entries(net.Containers ?? {}).find(([, c]) => c.EndpointID === endpointID);
      if (!ep) return { name, container: null };
      // Keyed by the container ID once joined, "ep-<endpointID>" while joining.
      const [key, c] = ep;
      const filter = key.startsWith('ep-') && c.Name ? { name: [`^/${c.Name}$`] } : { id: [key] };
      const list = await get(socket, `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify(filter))}`, timeoutMs) as ContainerDoc[];
      const doc = list[0];
      if (!doc) return { name, container: null };
      return { name, container: { id: doc.Id, name: (doc.Names?.[0] ?? c.Name ?? '').replace(/^\//, ''), labels: doc.Labels ?? {} } };
    },
  };
}
