/** ISO 8601 UTC with `Z`, or null. The one place API timestamps are formatted. */
export function iso(value: Date | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return new Date(value).toISOString();
}

export function isoRequired(value: Date | number): string {
  return new Date(value).toISOString();
}
