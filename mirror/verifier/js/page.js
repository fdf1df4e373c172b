// The verifier page: file input, receipt, sandboxed article, fetch by CID, keys.
// Trusted keys live only in this file's embedded config; browser storage holds only
// signed identity documents, re-verified against the embedded keys on every load.
import { MirrorError, NetworkError, VerificationError, UsageError, concatBytes } from './util.js';
import { toPlain } from './json.js';
import { CarReader, parseTarget } from './ipld.js';
import { PublicKey, parseChainObj, verifyChain, merge } from './trust.js';
import { verifyDetailed, trustFromOptions, EXPORT_CSP } from './verify.js';
import { engine } from './ed25519.js';

const STORE_KEY = 'mirror-verifier/identity-state';
const MAX_FETCH = 64 << 20;

const TEXT = {
  en: {
    title: 'Check an article', lead: "Open an article file you received (.html) or a bundle (.car). This page checks every byte against the publisher's key, here on your device, without going online.",
    choose: 'Choose a file to check', fetchTitle: 'Fetch by CID (goes online)', fetchHelp: 'Paste a CID, an ipfs:// link or a gateway link. The page asks the gateways below, checks every block as it arrives and skips any gateway that sends wrong bytes.',
    gatewaysLabel: 'Gateways (one per line)', fetchButton: 'Fetch and check', keysTitle: 'Trusted publishers',
    addHelp: "To trust another publisher, paste its key line (ed25519:…) from a channel you trust, compare the fingerprint with the publisher's, then save the new copy of this page and open that copy from now on.",
    namePlaceholder: 'name, e.g. moscowtimes', addButton: 'Show fingerprint', saveButton: 'Save the new copy of this page',
    footer: 'Nothing you open here is sent anywhere. Fetching by CID contacts only the gateways listed.',
    checking: 'Checking…', verified: 'VERIFIED: this is exactly what the publisher signed', refused: 'REFUSED: do not trust this file', error: 'Could not check this file',
    publisher: 'Publisher', keyId: 'Key id', fingerprint: 'Fingerprint', titleField: 'Title', url: 'Original URL', captured: 'Captured', root: 'Root CID', files: 'Files checked', reason: 'Reason', detail: 'Details', file: 'File', source: 'Checked from', identity: 'Identity version', timestamp: 'Timestamp', existed: 'existed by {time} (TSA {tsa})',
    noKeys: 'No publisher key is embedded in this copy yet.', newKey: 'Key {id}, fingerprint: {fp}. Compare it with the publisher\'s before saving.', badKey: 'Not a valid key line: {e}',
    fetching: 'Asking {n} gateway(s) for {cid}…', liar: 'Gateway {gw} sent bytes that do not verify ({e}); skipped.', gwFail: 'Gateway {gw} failed: {e}', gotFrom: 'Got a verified copy from {gw}.', noGateways: 'No gateway to ask: enter at least one.', badCid: 'Not a CID or IPFS link: {e}',
    fallback: 'Signatures were checked by this page\'s own Ed25519 code (the browser has none).',
    reasons: {
      'untrusted-key': 'It is not signed by a publisher you trust.', 'revoked-key': 'It is signed by a key the publisher has revoked.', 'threshold-not-met': 'It lacks the signatures the publisher requires.', 'identity-invalid': "The publisher's identity documents are broken or forged.", rollback: 'It is older than what you have already seen.', expired: 'Its signature has expired.', 'content-mismatch': 'Its content differs from what the publisher signed.', 'unlisted-file': 'It contains a file the publisher did not sign.', 'missing-file': 'A file the publisher signed is missing.', 'non-canonical': 'Its bytes were changed in transit (re-encoded or re-packed); ask for the original file.', 'not-a-bundle': 'It is not a signed article.', 'wrong-type': 'It is a signed document of another kind, not an article.', malformed: 'The file is damaged or hostile.', limit: 'The file exceeds a safety limit.', network: 'The network failed.', internal: 'The page hit an internal error.', usage: 'The page cannot check it this way.', 'bad-timestamp': 'Its timestamp is broken or belongs to other bytes.', 'untrusted-tsa': 'Its timestamp is from an authority you do not trust.', 'signed-after-rotation': 'It was signed with an old key after the publisher replaced it.',
    },
  },
  ru: {
    title: 'Проверить статью', lead: 'Откройте полученный файл статьи (.html) или пакет (.car). Эта страница сверяет каждый байт с ключом издателя прямо на вашем устройстве, без выхода в сеть.',
    choose: 'Выберите файл для проверки', fetchTitle: 'Загрузить по CID (через сеть)', fetchHelp: 'Вставьте CID, ссылку ipfs:// или ссылку на шлюз. Страница обратится к шлюзам ниже, проверит каждый блок по мере получения и пропустит шлюз, приславший неверные байты.',
    gatewaysLabel: 'Шлюзы (по одному в строке)', fetchButton: 'Загрузить и проверить', keysTitle: 'Доверенные издатели',
    addHelp: 'Чтобы доверять другому издателю, вставьте строку его ключа (ed25519:…), полученную по надёжному каналу, сравните отпечаток с отпечатком издателя, затем сохраните новую копию этой страницы и открывайте дальше её.',
    namePlaceholder: 'имя, например moscowtimes', addButton: 'Показать отпечаток', saveButton: 'Сохранить новую копию страницы',
    footer: 'Ничего из открытого здесь никуда не отправляется. Загрузка по CID обращается только к перечисленным шлюзам.',
    checking: 'Проверка…', verified: 'ПОДЛИННО: это в точности то, что подписал издатель', refused: 'ОТКЛОНЕНО: не доверяйте этому файлу', error: 'Не удалось проверить файл',
    publisher: 'Издатель', keyId: 'Код ключа', fingerprint: 'Отпечаток', titleField: 'Заголовок', url: 'Исходный адрес', captured: 'Сохранено', root: 'Корневой CID', files: 'Проверено файлов', reason: 'Причина', detail: 'Подробности', file: 'Файл', source: 'Источник', identity: 'Версия идентичности', timestamp: 'Метка времени', existed: 'существовала не позднее {time} (TSA {tsa})',
    noKeys: 'В эту копию пока не встроен ни один ключ издателя.', newKey: 'Ключ {id}, отпечаток: {fp}. Сравните его с отпечатком издателя, прежде чем сохранять.', badKey: 'Это не строка ключа: {e}',
    fetching: 'Запрос {cid} у шлюзов ({n})…', liar: 'Шлюз {gw} прислал непроверяемые байты ({e}); пропущен.', gwFail: 'Шлюз {gw} не ответил: {e}', gotFrom: 'Проверенная копия получена от {gw}.', noGateways: 'Нет шлюзов: укажите хотя бы один.', badCid: 'Это не CID и не ссылка IPFS: {e}',
    fallback: 'Подписи проверены собственным кодом Ed25519 этой страницы (в браузере его нет).',
    reasons: {
      'untrusted-key': 'Файл подписан не тем издателем, которому вы доверяете.', 'revoked-key': 'Файл подписан ключом, который издатель отозвал.', 'threshold-not-met': 'Не хватает подписей, которых требует издатель.', 'identity-invalid': 'Документы идентичности издателя повреждены или подделаны.', rollback: 'Это более старая версия, чем вы уже видели.', expired: 'Срок действия подписи истёк.', 'content-mismatch': 'Содержимое отличается от подписанного издателем.', 'unlisted-file': 'В файле есть то, что издатель не подписывал.', 'missing-file': 'Не хватает файла, подписанного издателем.', 'non-canonical': 'Байты изменены при передаче (перекодированы или пересобраны); попросите исходный файл.', 'not-a-bundle': 'Это не подписанная статья.', 'wrong-type': 'Это подписанный документ другого рода, а не статья.', malformed: 'Файл повреждён или враждебен.', limit: 'Файл превышает предел безопасности.', network: 'Сбой сети.', internal: 'Внутренняя ошибка страницы.', usage: 'Так проверить этот файл нельзя.', 'bad-timestamp': 'Метка времени повреждена или относится к другим байтам.', 'untrusted-tsa': 'Метка времени выдана службой, которой вы не доверяете.', 'signed-after-rotation': 'Файл подписан старым ключом уже после того, как издатель его заменил.',
    },
  },
};

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('mirror-config').textContent);
const pageSource = '<!doctype html>\n' + document.documentElement.outerHTML; // before any change
let lang = (navigator.languages || [navigator.language || 'en']).some((l) => String(l).toLowerCase().startsWith('ru')) ? 'ru' : 'en';
let lastRender = null;

function t(key, vars = {}) {
  const s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  $('lang-en').setAttribute('aria-pressed', String(lang === 'en'));
  $('lang-ru').setAttribute('aria-pressed', String(lang === 'ru'));
  if (lastRender) lastRender();
  renderKeys();
}

// -- remembered identity state: signed documents only, re-verified on every load ------

let embedded = [];
let remembered = []; // [{anchor: PublicKey, chain: Chain}]

async function loadState() {
  embedded = await trustFromOptions(config.trust.map((k) => ({ name: k.name, key: k.key })));
  const candidates = [];
  for (const k of config.trust) if (k.chain) candidates.push({ anchor: k.key, chain: k.chain });
  try {
    const stored = JSON.parse(localStorage.getItem(STORE_KEY) || '[]');
    if (Array.isArray(stored)) candidates.push(...stored);
  } catch { /* unreadable storage is ignored: it can only ever make a verdict stricter */ }
  const byAnchor = new Map();
  for (const c of candidates) {
    try {
      const anchor = embedded.find((t) => t.key.toText() === c.anchor);
      if (!anchor) continue; // a document for a key this copy does not trust: ignored
      const chain = await verifyChain(parseChainObj(fromJson(c.chain), 'identity state'), [anchor.key]);
      const list = byAnchor.get(anchor.key.id) || [anchor.key, []];
      list[1].push(chain);
      byAnchor.set(anchor.key.id, list);
    } catch { /* not genuinely signed: dropped */ }
  }
  remembered = [];
  for (const [, [anchor, chains]] of byAnchor) {
    try { remembered.push({ anchor, chain: merge(chains) }); } catch {
      // two genuinely signed but different histories: keep both, so the verdict sees the fork
      for (const chain of chains) remembered.push({ anchor, chain });
    }
  }
}

function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, fromJson(x)]));
  return v;
}

function defaultOptions() {
  return {
    trust: embedded.map((k) => ({ name: k.name, key: k.key.toText() })),
    state: remembered.map((s) => ({ anchor: s.anchor.toText(), chain: s.chain.toObj() })),
    tsa: config.tsa || [], // the reader's TSA roots, embedded like the keys: [{name, pem}]
  };
}

function remember(result) {
  if (!result.remember || !result.verdict.ok) return;
  const { anchor, chain } = result.remember;
  const known = remembered.find((s) => s.anchor.id === anchor.id);
  if (known && known.chain.links.length >= chain.links.length) return;
  remembered = remembered.filter((s) => s.anchor.id !== anchor.id).concat([{ anchor, chain }]);
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(remembered.map((s) => ({ anchor: s.anchor.toText(), chain: toPlain(s.chain.toObj()) }))));
  } catch { /* storage unavailable (private mode): only this session remembers */ }
}

async function check(bytes, name, options, root = null) {
  const opts = options ? { ...options } : defaultOptions();
  if (root) opts.root = root;
  const result = await verifyDetailed(bytes, name, opts);
  if (!options) remember(result);
  return result;
}

// -- the receipt -------------------------------------------------------------------------

function kindOf(verdict) {
  if (verdict.ok) return 'verified';
  return verdict.exit_code === 3 ? 'refused' : 'error';
}

function field(dl, label, value, mono = false) {
  if (value === null || value === undefined || value === '') return;
  const dt = document.createElement('dt');
  dt.textContent = t(label);
  const dd = document.createElement('dd');
  dd.textContent = String(value);
  if (mono) dd.className = 'mono';
  dl.append(dt, dd);
}

function receipt(el, name, result) {
  const v = result.verdict;
  el.replaceChildren();
  const h = document.createElement('h2');
  h.textContent = t(kindOf(v));
  el.append(h);
  const dl = document.createElement('dl');
  field(dl, 'file', name);
  if (v.ok) {
    field(dl, 'publisher', v.publisher);
    field(dl, 'keyId', v.key_id, true);
    field(dl, 'fingerprint', result.fingerprint, true);
    field(dl, 'titleField', v.title);
    field(dl, 'url', v.url);
    field(dl, 'captured', v.captured_at);
    field(dl, 'root', v.root_cid, true);
    field(dl, 'files', v.files_checked);
    field(dl, 'identity', v.identity_version);
    if (v.timestamp) field(dl, 'timestamp', t('existed', { time: v.timestamp.time, tsa: v.timestamp.tsa }));
  } else {
    field(dl, 'reason', (TEXT[lang].reasons[v.reason] || '') + ` (${v.reason})`);
    field(dl, 'detail', v.error);
  }
  el.append(dl);
  if (engine.usedFallback) {
    const p = document.createElement('p');
    p.textContent = t('fallback');
    el.append(p);
  }
}

// The verified article, inert: parsed without loading anything, every meta http-equiv
// and base dropped, the export CSP first in <head>, links only on click in a new tab.
function showArticle(bytes) {
  const frame = $('article');
  if (!bytes) { frame.hidden = true; frame.removeAttribute('srcdoc'); return; }
  const html = new TextDecoder().decode(bytes);
  const doc = new DOMParser().parseFromString(html, 'text/html');
  for (const el of doc.querySelectorAll('meta[http-equiv], base, script, iframe, object, embed, link')) el.remove();
  const csp = doc.createElement('meta');
  csp.setAttribute('http-equiv', 'Content-Security-Policy');
  csp.setAttribute('content', EXPORT_CSP);
  const ref = doc.createElement('meta');
  ref.setAttribute('name', 'referrer');
  ref.setAttribute('content', 'no-referrer');
  doc.head.prepend(csp, ref);
  for (const a of doc.querySelectorAll('a[href], area[href]')) {
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
    a.removeAttribute('ping');
  }
  frame.srcdoc = '<!doctype html>\n' + doc.documentElement.outerHTML;
  frame.hidden = false;
}

function begin() {
  const el = $('verdict');
  el.removeAttribute('data-verdict');
  el.removeAttribute('data-exit-code');
  el.hidden = false;
  el.textContent = t('checking');
  $('more').replaceChildren();
  showArticle(null);
  lastRender = null;
}

function finish(items) {
  // the first file is the receipt; more files each get their own below
  const draw = () => {
    receipt($('verdict'), items[0].name, items[0].result);
    const more = $('more');
    more.replaceChildren();
    for (const it of items.slice(1)) {
      const box = document.createElement('section');
      box.className = 'receipt-extra';
      box.dataset.verdict = kindOf(it.result.verdict);
      receipt(box, it.name, it.result);
      more.append(box);
    }
  };
  draw();
  lastRender = draw;
  const first = items[0].result;
  showArticle(first.verdict.ok ? first.display : null);
  const el = $('verdict');
  const worst = items.map((i) => i.result.verdict).find((v) => !v.ok);
  const summary = worst || first.verdict;
  el.dataset.exitCode = String(summary.ok ? 0 : summary.exit_code);
  el.dataset.verdict = kindOf(summary); // set last: tools wait for it
}

async function onFiles() {
  const files = [...$('file').files];
  if (!files.length) return;
  begin();
  const items = [];
  for (const f of files) {
    let result;
    try {
      if (f.size > MAX_FETCH) throw new MirrorError(`${f.name} is larger than ${MAX_FETCH} bytes`, 5, 'limit');
      result = await check(new Uint8Array(await f.arrayBuffer()), f.name);
    } catch (e) {
      result = { verdict: { ok: false, exit_code: e.exitCode || 6, reason: e.reason || 'storage', error: e.message } };
    }
    items.push({ name: f.name, result });
  }
  finish(items);
}

// -- fetch by CID ---------------------------------------------------------------------------

function note(text) {
  const li = document.createElement('li');
  li.textContent = text;
  $('notes').append(li);
}

// Stream one gateway's CAR; the CarReader inside verifyDetailed re-checks every block,
// and blocks are hashed here as they arrive so a liar is dropped at its first bad one.
async function fromGateway(gw, cid, signal) {
  const url = gw.replace(/\/+$/, '') + `/ipfs/${cid}?format=car`;
  const res = await fetch(url, { headers: { Accept: 'application/vnd.ipld.car' }, signal, referrerPolicy: 'no-referrer', credentials: 'omit', cache: 'no-store', redirect: 'error' });
  if (!res.ok) throw new NetworkError(`HTTP ${res.status}`);
  const reader = new CarReader();
  const parts = [];
  let total = 0;
  const body = res.body.getReader();
  for (;;) {
    const { done, value } = await body.read();
    if (done) break;
    total += value.length;
    if (total > MAX_FETCH) throw new MirrorError(`larger than ${MAX_FETCH} bytes`, 5, 'limit');
    parts.push(value);
    await reader.feed(value);
  }
  await reader.end();
  return concatBytes(parts);
}

async function onFetch() {
  $('notes').replaceChildren();
  let cid;
  try { cid = parseTarget($('cid').value); } catch (e) { note(t('badCid', { e: e.message })); return; }
  const gateways = [...new Set([...(config.gateways || []), ...$('gateways').value.split(/\s+/).filter(Boolean)])].filter((g) => /^https?:\/\//i.test(g));
  if (!gateways.length) { note(t('noGateways')); return; }
  begin();
  note(t('fetching', { n: gateways.length, cid }));
  const controllers = gateways.map(() => new AbortController());
  let winner = null;
  let lastFailure = null;
  await new Promise((resolve) => {
    let pending = gateways.length;
    gateways.forEach((gw, i) => {
      (async () => {
        try {
          const bytes = await fromGateway(gw, cid, controllers[i].signal);
          if (winner) return;
          const result = await check(bytes, `${cid}.car`, null, cid);
          if (winner) return;
          if (result.verdict.ok) {
            winner = { gw, result };
            controllers.forEach((c, j) => j !== i && c.abort());
            note(t('gotFrom', { gw }));
            resolve();
            return;
          }
          lastFailure = result;
          note(t('liar', { gw, e: result.verdict.error }));
        } catch (e) {
          if (winner && e.name === 'AbortError') return; // lost the race: not a failure
          if (e instanceof VerificationError || e instanceof UsageError) note(t('liar', { gw, e: e.message }));
          else note(t('gwFail', { gw, e: e.message }));
          lastFailure = lastFailure || { verdict: { ok: false, exit_code: e.exitCode || 4, reason: e.reason || 'network', error: `gateway ${gw}: ${e.message}` } };
        } finally {
          if (--pending === 0) resolve();
        }
      })();
    });
  });
  finish([{ name: cid, result: winner ? winner.result : lastFailure }]);
}

// -- keys: shown with fingerprints; adding one saves a new copy of this page ------------

function renderKeys() {
  const ul = $('keys');
  if (!ul) return;
  ul.replaceChildren();
  if (!embedded.length) { const li = document.createElement('li'); li.textContent = t('noKeys'); ul.append(li); }
  for (const k of embedded) {
    const li = document.createElement('li');
    li.textContent = `${k.name} — ${t('keyId')} ${k.key.keyId} — ${t('fingerprint')}: ${k.key.fingerprint}`;
    ul.append(li);
  }
}

async function onAddKey() {
  const info = $('newkey-info');
  const save = $('save');
  save.hidden = true;
  try {
    const key = await PublicKey.fromText($('newkey').value);
    const name = $('newname').value.trim() || `key-${key.keyId}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new UsageError('use letters, digits, ".", "_" or "-" for the name');
    info.textContent = t('newKey', { id: key.keyId, fp: key.fingerprint });
    const next = { ...config, trust: [...config.trust.filter((k) => k.key !== key.toText()), { name, key: key.toText(), chain: null }] };
    const json = JSON.stringify(next).replace(/</g, '\\u003c');
    const open = '<script type="application/json" id="mirror-config">';
    const start = pageSource.indexOf(open) + open.length;
    const end = pageSource.indexOf('<\/script>', start);
    const copy = pageSource.slice(0, start) + json + pageSource.slice(end);
    if (save.href) URL.revokeObjectURL(save.href);
    save.href = URL.createObjectURL(new Blob([copy], { type: 'text/html' }));
    save.hidden = false;
  } catch (e) {
    info.textContent = t('badKey', { e: e.message });
  }
}

// -- start ------------------------------------------------------------------------------------

const ready = (async () => {
  await loadState();
  applyLanguage();
  $('gateways').value = (config.gateways || []).join('\n');
  $('file').addEventListener('change', onFiles);
  $('fetch').addEventListener('click', onFetch);
  $('addkey').addEventListener('click', onAddKey);
  $('lang-en').addEventListener('click', () => { lang = 'en'; applyLanguage(); });
  $('lang-ru').addEventListener('click', () => { lang = 'ru'; applyLanguage(); });
})();

window.mirror = {
  ready,
  // the same JSON as `mirror verify --json`; options {trust, state, now} as in a corpus case
  async verify(bytes, name, options) {
    await ready;
    const opts = options ? { ...defaultOptions(), ...options } : undefined;
    return (await check(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), name, opts)).verdict;
  },
  fetchTarget: parseTarget,
  engine,
};
