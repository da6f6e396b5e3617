/**
 * Group commit: what concurrent callers submit while a flush is under way goes out together in
 * the next one, as one statement. Idle, a submission is flushed at once (after the current tick,
 * so submissions of the same tick share it); under load, batches grow by themselves and the
 * number of statements per event falls, with no timer adding latency.
 */
export class Batcher<In, Out> {
  private pending: Array<{ item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }> = [];
  private flushing = 0;
  private scheduled = false;
  private readonly flush: (items: In[]) => Promise<Out[]>;
  private readonly maxBatch: number;
  private readonly maxFlushes: number;

  /**
   * `flush` gets the items in submission order and answers one result per item, in the same
   * order; if it throws, every item of that batch fails with the error.
   */
  constructor(
    flush: (items: In[]) => Promise<Out[]>,
    options: { maxBatch?: number; maxConcurrentFlushes?: number } = {},
  ) {
    this.flush = flush;
    this.maxBatch = options.maxBatch ?? 256;
    this.maxFlushes = options.maxConcurrentFlushes ?? 1;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing >= this.maxFlushes || this.pending.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    if (this.flushing >= this.maxFlushes || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.maxBatch);
    this.flushing += 1;
    this.flush(batch.map((b) => b.item))
      .then(
        (results) => {
          for (const [i, b] of batch.entries()) b.resolve(results[i] as Out);
        },
        (error: unknown) => {
          for (const b of batch) b.reject(error);
        },
      )
      .finally(() => {
        this.flushing -= 1;
        this.schedule();
      });
    // More waiting than one batch takes, and room for another flush: start it too.
    if (this.pending.length > 0) this.schedule();
  }
}
