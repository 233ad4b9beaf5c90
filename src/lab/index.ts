// The lab: a whole Trellis cluster in network namespaces on one machine, and the
// namespace helpers the tests share.
export {
  createNetns, deleteNetns, connectNetns, listNetns, netnsPids, inNetns,
  cleanupNetnsWithPrefix, testNetnsPrefix, execIn,
} from './netns.js';
export type { Netns, ExecResult } from './netns.js';
