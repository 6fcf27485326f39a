/**
 * The browser tab's title and favicon carry the count of active alarms, coloured by the most
 * severe of them, so a glance at a background tab tells whether something is wrong.
 */
import type { Severity } from './model.js';

/** Badge colours by severity; a grey circle when nothing is active. */
export const BADGE: Record<Severity | 'none', string> = {
  critical: '#b3261e',
  major: '#b45309',
  minor: '#8a5a00',
  warning: '#a16207',
  indeterminate: '#4b5563',
  none: '#15803d',
};

function favicon(count: number, worst: Severity | undefined): string {
  const text = count > 999 ? '1k+' : String(count);
  const size = text.length > 2 ? 26 : 36;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="${BADGE[worst ?? 'none']}"/>` +
    `<text x="32" y="33" font-family="sans-serif" font-weight="700" font-size="${size}" fill="#fff" text-anchor="middle" dominant-baseline="central">${text}</text></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

let shown = '';

/** Shows the count in the title and the favicon; does nothing when they already show it. */
export function showCount(count: number, worst: Severity | undefined, project: string): void {
  const key = `${count}/${worst ?? ''}/${project}`;
  if (key === shown) return;
  shown = key;
  document.title = `(${count}) ${project} · Alarm Center`;
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement('link');
    link.rel = 'icon';
    document.head.append(link);
  }
  link.type = 'image/svg+xml';
  link.href = favicon(count, worst);
}
