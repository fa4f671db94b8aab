#!/bin/sh
# One-shot job of compose.yaml (service s3-bucket, image minio/mc): makes
# the course documents' bucket and the hub's own MinIO user, allowed that
# bucket only; the hub never holds the root credentials. Idempotent: run at
# every `docker compose up` (a changed DOCUMENTS_S3_SECRET_KEY is applied).
#
# Secrets come from the environment, never from a URL (MC_HOST_<alias>
# breaks on "@", ":" or "/" in a secret):
#   MINIO_ROOT_USER, MINIO_ROOT_PASSWORD   the store's root account
#   BUCKET                                 the documents' bucket
#   HUB_ACCESS_KEY, HUB_SECRET_KEY         the hub's user (DOCUMENTS_S3_*)
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${BUCKET:?}"
: "${HUB_ACCESS_KEY:?}" "${HUB_SECRET_KEY:?}"
ENDPOINT="${S3_ENDPOINT:-http://s3:9000}"
POLICY="hub-documents-${BUCKET}"

if [ "$HUB_ACCESS_KEY" = "$MINIO_ROOT_USER" ]; then
    echo "DOCUMENTS_S3_ACCESS_KEY must differ from MINIO_ROOT_USER" >&2
    exit 1
fi

mc alias set store "$ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "store/$BUCKET"

# What django-storages' S3 backend does with the bucket: list, read, write
# (multipart for big files), delete. Nothing else, no other bucket.
policy_file="${TMPDIR:-/tmp}/hub-documents-policy.json"
cat >"$policy_file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::${BUCKET}"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::${BUCKET}/*"]
    }
  ]
}
JSON
mc admin policy create store "$POLICY" "$policy_file"
mc admin user add store "$HUB_ACCESS_KEY" "$HUB_SECRET_KEY"
if ! out="$(mc admin policy attach store "$POLICY" --user "$HUB_ACCESS_KEY" 2>&1)"; then
    case "$out" in
        *"already in effect"*) ;;  # attached by an earlier run
        *) echo "$out" >&2; exit 1 ;;
    esac
fi
echo "bucket $BUCKET ready; user $HUB_ACCESS_KEY limited to it"
