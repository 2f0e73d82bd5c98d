/**
 * Salt of the secret hashes in leak and cloud findings. The same salt makes the same secret recognisable across
 * runs, hosts and commands; set IMDSGUARD_SECRET_SALT to a value of your own so that nobody outside can test a guess
 * against a hash.
 */
export function secretSalt(): string {
  return process.env.IMDSGUARD_SECRET_SALT || 'imdsguard-secret-hash-v1';
}
