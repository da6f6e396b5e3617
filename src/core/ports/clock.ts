// The one source of the current time: every service, the Svix gateway and its pacer, the dashboard.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
