// Django's `parse_duration` formats, as DRF's DurationField accepts them: "[D [days, ]][[HH:]MM:]SS[.ffffff]"
// and ISO 8601 "P[nD][T[nH][nM][nS]]" (weeks allowed too).
const STANDARD = /^(?:(-?\d+) (?:days?, )?)?(-?)(?:(\d+):(?=\d+:\d+))?(?:(\d+):)?(\d+)(?:[.,](\d{1,6})\d{0,6})?$/;
const ISO_8601 =
  /^([-+]?)P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

const num = (value: string | undefined) => (value ? Number(value.replace(",", ".")) : 0);

/** Seconds in a DRF duration string, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const value = text.trim();
  const standard = STANDARD.exec(value);
  if (standard) {
    const [, days, sign, hours, minutes, seconds, fraction] = standard;
    const time = num(hours) * 3600 + num(minutes) * 60 + num(seconds) + (fraction ? Number(`0.${fraction}`) : 0);
    return num(days) * 86400 + (sign === "-" ? -time : time);
  }
  const iso = ISO_8601.exec(value);
  if (iso && value !== "P" && !value.endsWith("T")) {
    const [, sign, weeks, days, hours, minutes, seconds] = iso;
    const total = num(weeks) * 604800 + num(days) * 86400 + num(hours) * 3600 + num(minutes) * 60 + num(seconds);
    return sign === "-" ? -total : total;
  }
  return null;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** DRF's rendering of a duration: "14 00:00:00", or "01:30:00" under a day. */
export function formatDuration(totalSeconds: number): string {
  const days = Math.floor(totalSeconds / 86400);
  const rest = totalSeconds % 86400;
  const time = `${pad(Math.floor(rest / 3600))}:${pad(Math.floor((rest % 3600) / 60))}:${pad(rest % 60)}`;
  return days ? `${days} ${time}` : time;
}
