// The credential lives in sessionStorage (gone when the tab closes) and never in a URL: a viewer
// link carries its token in the fragment, which browsers do not send to servers, and the app moves
// it to sessionStorage and clears the fragment at once.
const KEY = "edge-audit.token";

export function takeTokenFromLink(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", `${window.location.pathname}#/activity`);
}

export const currentToken = () => sessionStorage.getItem(KEY);
export const signIn = (token: string) => sessionStorage.setItem(KEY, token.trim());
export const signOut = () => sessionStorage.removeItem(KEY);
