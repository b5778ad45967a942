// The glue between jobs and experiment tracking (issue 5, item 5): every job attempt gets a run in
// its project's default experiment, tagged with the job and attempt, and a token scoped to that run
// (it can read the project's tracking data and write only this run: an unmodified MLflow client in
// the job logs to it through MLFLOW_TRACKING_TOKEN). When the attempt ends, its runtime, CPU time,
// peak memory, energy and carbon are logged as system metrics, the run is closed with the
// attempt's status, and the token is revoked.
import type { AccessService, Actor, TokenScope } from '../access/index.ts';
import type { AttemptRuns } from '../jobs/index.ts';
import type { ProjectId } from '../kernel/index.ts';
import type { Clock } from '../kernel/index.ts';
import type { TrackingService } from '../tracking/index.ts';

const SYSTEM: Actor = { principal: null, requestId: null };

export function attemptRuns(tracking: TrackingService, access: AccessService, clock: Clock): AttemptRuns {
  const scopeOf = (projectId: string, runId: string): TokenScope => ({ kind: 'run', projectId: projectId as ProjectId, runId });
  return {
    async start(i) {
      const projectId = i.projectId as ProjectId;
      const experimentId = await tracking.defaultExperiment(SYSTEM, projectId);
      const run = await tracking.createRun(SYSTEM, projectId, {
        experimentId,
        name: `${i.jobName}-attempt-${i.attempt}`,
        userId: i.submittedBy,
        startTime: clock.now(),
        tags: [
          { key: 'strata.job_id', value: i.jobId },
          { key: 'strata.attempt', value: String(i.attempt) },
          { key: 'mlflow.source.name', value: i.jobName },
          { key: 'mlflow.source.type', value: 'JOB' },
          ...Object.entries(i.labels).map(([key, value]) => ({ key: `strata.label.${key}`, value })),
        ],
      });
      const runId = run.info.id;
      const { token } = await access.createScopedToken(SYSTEM, scopeOf(i.projectId, runId), `run-${runId}`.slice(0, 63), i.tokenSeconds);
      return { runId, experimentId, token };
    },
    async finish(i) {
      const projectId = i.projectId as ProjectId;
      try {
        const metrics = Object.entries(i.metrics).map(([key, value]) => ({ key, value, timestamp: i.endTimeMs, step: 0 }));
        const tags = Object.entries(i.tags).map(([key, value]) => ({ key, value }));
        if (metrics.length > 0 || tags.length > 0) await tracking.logBatch(projectId, i.runId, { metrics, tags });
        await tracking.updateRun(SYSTEM, projectId, i.runId, { status: i.status, endTime: i.endTimeMs });
      } finally {
        await access.revokeScopedTokens(SYSTEM, scopeOf(i.projectId, i.runId));
      }
    },
  };
}
