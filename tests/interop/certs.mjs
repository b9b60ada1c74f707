// SPDX-License-Identifier: MIT
// A throwaway PKI for the TLS tests, made at test time with the `openssl`
// command in a temporary directory (removed when the process exits), once
// per process. Nothing here is committed; a missing `openssl` fails loudly.
//
//   makePki() -> {
//     dir,                              the temporary directory
//     caFile,                           the test CA (PEM)
//     certFile, keyFile,                server cert signed by it: DNS:localhost, IP:127.0.0.1
//     expiredCertFile, expiredKeyFile,  the same names, valid only in January 2020
//     clientCertFile, clientKeyFile,    a client certificate (clientAuth) signed by the CA
//     otherCaFile,                      an unrelated second CA
//   }
//
// Keys are EC P-256 (fast to make). The expired certificate comes from
// `openssl ca` with explicit -startdate / -enddate (OpenSSL 3.0 has no
// -not_before for `x509 -req`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let pki = null;

function openssl(dir, args) {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const why = e.code === 'ENOENT' ? 'the openssl command is not installed (apt-get install openssl)'
      : `${e.message}\n${e.stderr ?? ''}`;
    throw new Error(`certs.mjs: openssl ${args.join(' ')} failed: ${why}`);
  }
}

const CA_CONF = `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
`;

// For `openssl ca` (the expired certificate only).
const CA_DB_CONF = `[ ca ]
default_ca = ca_default
[ ca_default ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
`;

const SERVER_EXT = `basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
`;

const CLIENT_EXT = `basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`;

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir, name, cn) {
  openssl(dir, ['req', '-x509', '-config', 'ca.cnf', '-extensions', 'v3_ca', ...KEY,
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-subj', `/CN=${cn}`]);
}

/** A key and a CSR NAME.key / NAME.csr. */
function makeCsr(dir, name, cn) {
  openssl(dir, ['req', '-new', '-config', 'ca.cnf', ...KEY, '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
}

function sign(dir, name, ext) {
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-set_serial', String(1000 + Math.floor(Math.random() * 1e9)), '-days', '825',
    '-extfile', ext, '-out', `${name}.pem`]);
}

export function makePki() {
  if (pki) return pki;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-pki-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'ca.cnf'), CA_CONF);
  fs.writeFileSync(path.join(dir, 'ca-db.cnf'), CA_DB_CONF);
  fs.writeFileSync(path.join(dir, 'server.ext'), SERVER_EXT);
  fs.writeFileSync(path.join(dir, 'client.ext'), CLIENT_EXT);
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '2000\n');

  makeCa(dir, 'ca', 'wsc test CA');
  makeCa(dir, 'other-ca', 'wsc unrelated CA');
  makeCsr(dir, 'server', 'localhost');
  sign(dir, 'server', 'server.ext');
  makeCsr(dir, 'client', 'wsc test client');
  sign(dir, 'client', 'client.ext');
  makeCsr(dir, 'expired', 'localhost');
  openssl(dir, ['ca', '-batch', '-config', 'ca-db.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key',
    '-in', 'expired.csr', '-out', 'expired.pem', '-notext', '-extfile', 'server.ext',
    '-startdate', '20200101000000Z', '-enddate', '20200201000000Z']);

  const f = (name) => path.join(dir, name);
  pki = {
    dir,
    caFile: f('ca.pem'),
    certFile: f('server.pem'),
    keyFile: f('server.key'),
    expiredCertFile: f('expired.pem'),
    expiredKeyFile: f('expired.key'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
    otherCaFile: f('other-ca.pem'),
  };
  return pki;
}
