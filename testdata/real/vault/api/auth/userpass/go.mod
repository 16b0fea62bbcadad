module github.com/hashicorp/vault/api/auth/userpass

go 1.16

require github.com/hashicorp/vault/api v1.3.0
