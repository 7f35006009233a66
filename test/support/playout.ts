// How a carrier plays what a media stream sends it: audio is queued and played in real time; a
// mark is sent back once the audio before it has played (at once when nothing is queued). A clear
// drops the queued audio; Twilio and Telnyx then send the marks still queued back at once
// (Twilio: "Media Streams - WebSocket Messages", Send a mark / clear message; Telnyx: the AsyncAPI
// "Stream call media over WebSocket", Mark Frame, Clear Frame), while Asterisk's FLUSH_MEDIA drops
// them with the audio (chan_websocket.c: marks share the frame queue).

export class Playout {
  readonly #echo: (name: string) => void;
  readonly #delayMs: number;
  readonly #clearDropsMarks: boolean;
  /** When what is queued will have played (ms since the epoch). */
  #until = 0;
  readonly #marks = new Map<ReturnType<typeof setTimeout>, string>();

  /**
   * `echo` sends a mark back to the session (or ignores it, for a carrier that never answers one);
   * `delayMs` is a jitter buffer: audio arriving while nothing plays starts that much later.
   */
  constructor(echo: (name: string) => void, options: { delayMs?: number; clearDropsMarks?: boolean } = {}) {
    this.#echo = echo;
    this.#delayMs = options.delayMs ?? 0;
    this.#clearDropsMarks = options.clearDropsMarks ?? false;
  }

  /** μ-law bytes queued behind what is playing (8 bytes a millisecond). */
  audio(bytes: number): void {
    this.#until = Math.max(this.#until, Date.now() + this.#delayMs) + bytes / 8;
  }

  /** How much of what was sent has still to be played. */
  get unplayedMs(): number {
    return Math.max(0, this.#until - Date.now());
  }

  mark(name: string): void {
    const timer = setTimeout(
      () => {
        this.#marks.delete(timer);
        this.#echo(name);
      },
      Math.max(0, this.#until - Date.now()),
    );
    this.#marks.set(timer, name);
  }

  clear(): void {
    this.#until = Date.now();
    for (const [timer, name] of this.#marks) {
      clearTimeout(timer);
      if (!this.#clearDropsMarks) this.#echo(name);
    }
    this.#marks.clear();
  }

  /** The stream ended: nothing more plays and no mark comes back. */
  stop(): void {
    for (const timer of this.#marks.keys()) clearTimeout(timer);
    this.#marks.clear();
  }
}
