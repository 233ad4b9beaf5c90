import { performance } from 'node:perf_hooks';
import { createNetns } from '../../src/lab/index.js';
const ns = await createNetns('dpprof1');
try {
  const lines: string[] = [];
  for (let i = 0; i < 100; i++) lines.push(`link add trlw${i} type veth peer name trlp${i}`);
  await ns.run(['ip', '-batch', '-'], { input: lines.join('\n') + '\n' });
  const rules = ['*filter'];
  for (let c = 0; c < 800; c++) rules.push(`:trl-c${c} - [0:0]`);
  for (let c = 0; c < 800; c++) for (let r = 0; r < 7; r++) rules.push(`-A trl-c${c} -m comment --comment "x${r}" -j RETURN`);
  rules.push('COMMIT', '');
  await ns.run(['iptables-restore', '--noflush'], { input: rules.join('\n') });
  for (const argv of [['true'], ['iptables-save', '-t', 'filter'], ['iptables-legacy-save', '-t', 'filter'], ['ip6tables-save', '-t', 'filter'], ['iptables-save', '-t', 'nat'], ['ipset', 'save'], ['ip', '-j', 'route', 'show', 'proto', '78'], ['ip', '-j', 'link', 'show'], ['sysctl', 'net.ipv4.ip_forward']]) {
    const t = performance.now();
    const out = await ns.run(argv);
    console.log(argv.join(' '), Math.round(performance.now() - t), 'ms', out.length);
  }
  const t = performance.now();
  await ns.run(['nft', 'list', 'table', 'ip', 'filter']).catch(() => '');
  console.log('nft list', Math.round(performance.now() - t));
} finally { await ns.destroy(); }
