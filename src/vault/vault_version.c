/* Version string of coffer-vault, reported by --version and the server header. */
const char *cf_vault_version(void);
const char *cf_vault_version(void)
{
    return "coffer-vault 0.1.0";
}
