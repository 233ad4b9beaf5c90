// The real subsystems behind the agent's ports: the kernel dataplane, IPAM in etcd and
// the native BGP speaker.
import { createDataplane } from '../dataplane/index.js';
import { affineBlocks, borrowedAddresses, releaseEmptyBlocks } from '../ipam/index.js';
import { createBgpPort, nodeBgpFromCalc } from './bgp.js';
import { learnedCount, type AgentParts, type DataplanePort, type PartsFactory } from './ports.js';

export const realParts: PartsFactory = async ({ config, logger, netns, bgp, store }): Promise<AgentParts> => {
  const dp = createDataplane({ ...(netns ? { netns } : {}), logger });
  const dataplane: DataplanePort = {
    async reconcile(desired, opts) {
      const r = await dp.reconcile(desired, opts);
      if (r.errors.length) logger.warn({ errors: r.errors }, 'dataplane apply had partial errors');
      return { changed: r.wrote, detail: r };
    },
    watch: (onDrift) => dp.watch(onDrift),
    async syncLearnedRoutes(want, opts) {
      const r = await dp.syncLearnedRoutes(want, opts);
      return { changed: r.wrote, routes: learnedCount(want), detail: r };
    },
    async syncVxlan(state, opts) {
      const r = await dp.syncVxlan(state, opts);
      return { changed: r.wrote, routes: state.routes.length, detail: r };
    },
  };
  return {
    dataplane,
    ipam: {
      async advertisements(node) {
        const [blocks, borrowed] = await Promise.all([affineBlocks(store, node), borrowedAddresses(store, node)]);
        return { blocks, borrowed };
      },
      releaseEmpty: (node, graceMs) => releaseEmptyBlocks(store, node, graceMs),
    },
    bgp: bgp
      ? createBgpPort({
        nodeName: config.nodeName, logger, calc: nodeBgpFromCalc(logger), secretsDir: config.bgpSecretsDir,
        // Learned routes still in the kernel mean a previous run: keep them until End-of-RIB.
        restarting: (await dp.readKernel()).learnedRoutes.length > 0,
      })
      : null,
  };
};
