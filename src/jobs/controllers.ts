// The control loops over jobs: placement (woken at once by submissions and freed capacity, and
// every second anyway) and the lease rescuer. Each loop runs one pass at a time.
import type { JobService } from './job-service.ts';

export interface Controllers {
  stop(): Promise<void>;
}

export interface ControllerOptions {
  readonly placementEveryMs?: number;
  readonly rescueEveryMs?: number;
  readonly onError?: (what: string, e: unknown) => void;
}

/** Runs `fn` one pass at a time; a kick during a pass schedules exactly one more pass. */
function serialLoop(fn: () => Promise<unknown>, onError: (e: unknown) => void): { kick: () => void; idle: () => Promise<void> } {
  let running: Promise<void> | undefined;
  let again = false;
  const kick = (): void => {
    if (running !== undefined) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await fn().catch(onError);
      } while (again);
    })().finally(() => {
      running = undefined;
    });
  };
  return { kick, idle: async () => running };
}

export function startControllers(jobs: JobService, opts: ControllerOptions = {}): Controllers {
  const onError = opts.onError ?? (() => undefined);
  const placement = serialLoop(() => jobs.placementTick(), (e) => onError('placement', e));
  const rescue = serialLoop(() => jobs.rescueTick(), (e) => onError('rescue', e));
  jobs.signals.on('kick', placement.kick);
  const t1 = setInterval(placement.kick, opts.placementEveryMs ?? 1000);
  const t2 = setInterval(rescue.kick, opts.rescueEveryMs ?? 2000);
  t1.unref();
  t2.unref();
  placement.kick();
  return {
    async stop() {
      jobs.signals.off('kick', placement.kick);
      clearInterval(t1);
      clearInterval(t2);
      await placement.idle();
      await rescue.idle();
    },
  };
}
