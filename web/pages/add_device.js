// pages/add_device.js - the group page's "Add a device" panel, for users
// who may manage the group's devices: the one-line install command (made
// by the server on request, since it carries an install token) and the
// agent binary with the group's settings embedded (/api/meshagent), or
// those settings alone (/meshsettings).

import { el, fmtTime, replace } from '../dom.js';
import { short, state } from '../state.js';

/** Copies text to the clipboard; resolves to whether that worked. */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** The panel for group mesh (an object from the meshes list). */
export function addDevicePanel(mesh) {
  const q = `id=${encodeURIComponent(short(mesh._id))}`;
  const command = el('div', { id: 'install-command-box' },
    el('p', { className: 'muted loading' }, 'Preparing the install command…'));
  const status = el('span', { className: 'small muted', role: 'status' });

  const showCommand = (text, expires) => {
    const code = el('pre', { id: 'install-command', className: 'command', tabIndex: 0 }, text);
    const copy = el('button', { id: 'install-copy', type: 'button', className: 'small' }, 'Copy');
    copy.addEventListener('click', async () => {
      if (await copyText(text)) {
        status.textContent = 'Copied.';
      } else {
        // No clipboard access: select the text so Ctrl+C copies it.
        getSelection().selectAllChildren(code);
        status.textContent = 'Selected: press Ctrl+C to copy.';
      }
    });
    replace(command,
      el('p', {}, 'On a Linux machine, run this as root: it downloads the agent ' +
        'for this group and starts it.'),
      code, el('div', { className: 'row-tools' }, copy, status),
      Number.isFinite(expires) ? el('p', { id: 'install-expires', className: 'small muted' },
        `The link in it works until ${fmtTime(expires)}. Anyone holding it can add a device ` +
        'to this group, so share it with care.') : null);
  };

  (async () => {
    try {
      const r = await state.ctl.request({ action: 'installcommand', meshid: mesh._id });
      if (typeof r.command === 'string' && r.command) showCommand(r.command, r.expires);
      else {
        replace(command, el('p', { id: 'install-command-error', className: 'muted' },
          `The one-line install command is not available (${String(r.result ?? 'no answer')}).`));
      }
    } catch (x) {
      replace(command, el('p', { id: 'install-command-error', className: 'muted' },
        `The one-line install command is not available (${String(x.message)}).`));
    }
  })();

  return el('section', { id: 'add-device', className: 'panel', 'aria-labelledby': 'add-device-title' },
    el('h2', { id: 'add-device-title' }, 'Add a device'),
    command,
    el('p', {}, 'Or download the agent and run it on the device as root ',
      el('code', {}, 'chmod +x meshagent && sudo ./meshagent run'),
      '. It carries this group\'s settings and joins the group on its first start.'),
    el('p', { className: 'row-tools' },
      el('a', {
        id: 'agent-download', className: 'button', download: 'meshagent',
        href: `/api/meshagent?${q}`,
      }, 'Download agent'),
      el('a', { id: 'group-msh', download: 'meshagent.msh', href: `/meshsettings?${q}` },
        'Settings only (meshagent.msh)')),
    el('p', { className: 'small muted' },
      `The settings alone, on the server: meshd agent-config ${short(mesh._id)}`));
}
