// The console's entry point: sign-in, the page bar, and the hash router (#/overview, #/keys, ...).
import { api, setSession, whenSignedOut } from './api.js';
import { clear, h } from './dom.js';
import { overviewPage } from './pages/overview.js';
import { channelsPage } from './pages/channels.js';
import { keysPage } from './pages/keys.js';
import { logsPage } from './pages/logs.js';
import { portalPage } from './pages/portal.js';
import { usersPage } from './pages/users.js';
import { groupsPage } from './pages/groups.js';
import { codesPage } from './pages/codes.js';
import { accountPage } from './pages/account.js';
import { pricesPage } from './pages/prices.js';
import { tasksPage } from './pages/tasks.js';
import { playgroundPage } from './pages/playground.js';

const ADMIN_PAGES = [
  ['overview', 'Overview', overviewPage],
  ['channels', 'Channels', channelsPage],
  ['keys', 'Keys', keysPage],
  ['users', 'Users', usersPage],
  ['groups', 'Groups', groupsPage],
  ['codes', 'Codes', codesPage],
  ['logs', 'Logs', logsPage],
  ['prices', 'Prices', pricesPage],
  ['tasks', 'Tasks', tasksPage],
  ['playground', 'Playground', playgroundPage],
];
const KEY_PAGES = [['portal', 'My usage', portalPage]];
const USER_PAGES = [['account', 'My keys', accountPage]];

let session = null;
const $ = (id) => document.getElementById(id);

function pages() {
  if (session?.kind === 'admin') return ADMIN_PAGES;
  return session?.kind === 'user' ? USER_PAGES : KEY_PAGES;
}

function showSignIn(message) {
  session = null;
  setSession(null);
  $('bar').hidden = true;
  $('page').hidden = true;
  clear($('page'));
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message || '';
  $('key').value = '';
  $('user').value = '';
  $('key').focus();
}

function showConsole(signedIn) {
  session = signedIn;
  setSession(signedIn);
  $('sign-in').hidden = true;
  $('bar').hidden = false;
  $('page').hidden = false;
  $('who').textContent = signedIn.kind === 'admin' ? 'admin' : `${signedIn.kind}: ${signedIn.name}`;
  const nav = clear($('nav'));
  for (const [slug, title] of pages()) nav.append(h('a', { href: `#/${slug}`, 'data-page': slug, text: title }));
  route();
}

async function route() {
  if (!session) return;
  const [slug, ...rest] = location.hash.replace(/^#\/?/, '').split('?')[0].split('/');
  const found = pages().find(([name]) => name === slug) || pages()[0];
  if (found[0] !== slug) {
    history.replaceState(null, '', `#/${found[0]}`);
  }
  for (const link of $('nav').querySelectorAll('a')) link.classList.toggle('active', link.dataset.page === found[0]);
  const page = clear($('page'));
  page.dataset.page = found[0];
  try {
    await found[2](page, rest.map(decodeURIComponent), session);
  } catch (error) {
    page.append(h('p', { class: 'error', role: 'alert', text: error.message }));
  }
}

async function signIn(event) {
  event.preventDefault();
  const field = $('key');
  const secret = field.value;
  field.value = ''; // the key (or password) leaves the page at once: it is sent once and kept nowhere
  const user = $('user').value.trim();
  $('sign-in-error').textContent = '';
  try {
    showConsole(await api('POST', '/dashboard/api/session', user ? { user, password: secret } : { key: secret }));
  } catch (error) {
    showSignIn(error.message);
  }
}

async function signOut() {
  try {
    await api('DELETE', '/dashboard/api/session');
  } finally {
    history.replaceState(null, '', '#/');
    showSignIn('Signed out.');
  }
}

async function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  whenSignedOut(() => showSignIn('Your session has ended; sign in again.'));
  try {
    showConsole(await api('GET', '/dashboard/api/session'));
  } catch {
    showSignIn('');
  }
}

start();
