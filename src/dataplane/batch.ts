// Runs a policy backend's plan: its stages in order, each after the one before succeeded;
// the lanes of a stage side by side. The next stage is asked for only once the current
// one's commands are started, so a plan's rendering overlaps the write before it.
import type { PolicyApplied, PolicyCommand, PolicyPlan, PolicyStage } from './backend.js';
import { emptyPolicyCounts } from './backend.js';
import type { Exec } from './exec.js';

/** How long a failed best-effort command waits before its one retry (the kernel may hold a reference a moment longer). */
const BEST_EFFORT_RETRY_MS = 200;

export async function runPolicyPlan<S>(exec: Exec, plan: PolicyPlan<S>): Promise<PolicyApplied> {
  const applied: PolicyApplied = { counts: emptyPolicyCounts(), writeCommands: 0, errors: [] };
  const stages = plan.stages[Symbol.iterator]();
  let next = stages.next();
  while (!next.done) {
    const running = runStage(exec, next.value, applied);
    running.catch(() => undefined); // awaited below; planning the next stage must not leave it unhandled
    let following: IteratorResult<PolicyStage>;
    try {
      following = stages.next();
    } catch (err) {
      await running.catch(() => undefined);
      throw err;
    }
    await running;
    next = following;
  }
  return applied;
}

async function runStage(exec: Exec, stage: PolicyStage, applied: PolicyApplied): Promise<void> {
  const lanes = await Promise.allSettled(stage.map(async (lane) => {
    for (const cmd of lane) await runCommand(exec, cmd, applied);
  }));
  for (const r of lanes) if (r.status === 'rejected') throw r.reason;
}

async function runCommand(exec: Exec, cmd: PolicyCommand, applied: PolicyApplied): Promise<void> {
  if (cmd.bestEffort) {
    let r = await exec.tryRun(cmd.argv, cmd.input);
    if (r.exitCode !== 0) {
      await new Promise((res) => setTimeout(res, BEST_EFFORT_RETRY_MS));
      r = await exec.tryRun(cmd.argv, cmd.input);
    }
    applied.writeCommands++;
    if (r.exitCode !== 0) {
      applied.errors.push(`${cmd.bestEffort.label}: ${r.stderr.trim()}`);
      return;
    }
  } else {
    await exec.run(cmd.argv, cmd.input, cmd.warm ? { warm: true } : undefined);
    applied.writeCommands++;
  }
  for (const [k, v] of Object.entries(cmd.counts) as Array<[keyof PolicyApplied['counts'], number]>) applied.counts[k] += v;
}
