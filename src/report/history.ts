// What a training run leaves behind: one log line per epoch, and why it stopped early.

export interface EpochLog {
  /** 0-based. */
  epoch: number;
  /** Mean training loss over the epoch's items (as the model was while it trained). */
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** The default group's learning rate during the epoch (at its start, for per-step schedules). */
  lr: number;
  seconds: number;
}

export interface History {
  epochs: EpochLog[];
  /** Why training ended before `epochs` (early stopping), if it did. */
  stopReason?: string;
}
