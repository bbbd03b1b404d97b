"""One step of the client matrix (conformance/clients/) done with boto3 at its default settings.

Usage: BOTO3_SCENARIO='<json>' python3 boto3_scenario.py  (in the environment, so the secret is not
on the command line), the JSON holding: step, endpoint, accessKeyId,
secretAccessKey, region, caBundle (or null), bucket and the step's own arguments (file, key, big,
dir, prefix). Prints one JSON document: what the step saw (a listing, a count, a URL). Any failure
is an exception: a traceback and a non-zero exit, which the test reports.

`sync-up` / `sync-down` are what a boto3 user writes for a sync (boto3 has no sync command): copy a
file when the other side lacks it or its size differs, or when its ETag is a plain MD5 that is not the
local file's (suffixed ETags are not MD5s and are not compared). A re-sync then transfers nothing.
"""
import hashlib
import json
import os

import boto3
import botocore
from botocore.config import Config

a = json.loads(os.environ["BOTO3_SCENARIO"])
step = a["step"]


def client(config=None):
    return boto3.client(
        "s3",
        endpoint_url=a["endpoint"],
        aws_access_key_id=a["accessKeyId"],
        aws_secret_access_key=a["secretAccessKey"],
        region_name=a["region"],
        verify=a.get("caBundle") or None,
        config=config,
    )


def listing(s3, bucket, prefix=""):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = {"size": o["Size"], "etag": o["ETag"]}
    return out


def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def differs(path, remote):
    if remote is None or remote["size"] != os.path.getsize(path):
        return True
    etag = remote["etag"].strip('"')
    return "-" not in etag and etag != md5_of(path)


def local_files(root):
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            yield os.path.relpath(path, root).replace(os.sep, "/"), path


s3 = client()
bucket = a.get("bucket")
out = {}
if step == "version":
    out = {"boto3": boto3.__version__, "botocore": botocore.__version__}
elif step == "mb":
    if a["region"] == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": a["region"]})
elif step == "put":
    if a["big"]:
        # the transfer manager: multipart above its 8 MiB threshold
        s3.upload_file(a["file"], bucket, a["key"])
    else:
        with open(a["file"], "rb") as f:
            s3.put_object(Bucket=bucket, Key=a["key"], Body=f.read())
elif step == "list":
    out = [{"key": k, "size": v["size"]} for k, v in listing(s3, bucket).items()]
elif step == "get":
    if a["big"]:
        # the transfer manager: ranged GETs in parallel above its threshold
        s3.download_file(bucket, a["key"], a["file"])
    else:
        body = s3.get_object(Bucket=bucket, Key=a["key"])["Body"].read()
        with open(a["file"], "wb") as f:
            f.write(body)
elif step == "sync-up":
    remote = listing(s3, bucket, a["prefix"])
    count = 0
    for rel, path in local_files(a["dir"]):
        if differs(path, remote.get(a["prefix"] + rel)):
            s3.upload_file(path, bucket, a["prefix"] + rel)
            count += 1
    out = {"transferred": count}
elif step == "sync-down":
    count = 0
    for key, remote in listing(s3, bucket, a["prefix"]).items():
        path = os.path.join(a["dir"], *key[len(a["prefix"]):].split("/"))
        if not os.path.exists(path) or differs(path, remote):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, key, path)
            count += 1
    out = {"transferred": count}
elif step in ("presign-get", "presign-get-s3v4"):
    signer = client(Config(signature_version="s3v4")) if step == "presign-get-s3v4" else s3
    out = {"url": signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": a["key"]}, ExpiresIn=3600)}
elif step == "rm":
    s3.delete_object(Bucket=bucket, Key=a["key"])
elif step == "rm-all":
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            if result.get("Errors"):
                raise RuntimeError("DeleteObjects errors: %r" % result["Errors"])
elif step == "rb":
    s3.delete_bucket(Bucket=bucket)
else:
    raise SystemExit("unknown step " + step)
print(json.dumps(out))
