"""A short boto3 session against the gateway, driven by test/integration/cli.test.ts.

Usage: python3 boto3_scenario.py '<json: endpoint, accessKeyId, secretAccessKey, bucket, workdir>'

Runs the scenario with whatever checksum defaults this boto3 has (the environment may set
AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION) and prints one JSON document
of what it saw; the test computes the expectations and compares. Files: <workdir>/small.txt and
<workdir>/big.bin are uploaded; downloads go to <workdir>/small.out and <workdir>/big.out.
"""
import base64
import hashlib
import json
import os
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

args = json.loads(sys.argv[1])
work = args["workdir"]
bucket = args["bucket"]
small_key = "dir/small file+1%.txt"
s3 = boto3.client(
    "s3",
    endpoint_url=args["endpoint"],
    aws_access_key_id=args["accessKeyId"],
    aws_secret_access_key=args["secretAccessKey"],
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
)
out = {"boto3": boto3.__version__, "botocore": botocore.__version__}


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    return None


s3.create_bucket(Bucket=bucket)
with open(os.path.join(work, "small.txt"), "rb") as f:
    small = f.read()
put = s3.put_object(Bucket=bucket, Key=small_key, Body=small, ContentType="text/plain", Metadata={"k": "v"})
out["putETag"] = put["ETag"]
out["putChecksums"] = {k: v for k, v in put.items() if k.startswith("Checksum")}
# upload_file: the transfer manager, a single PUT below its 8 MiB multipart threshold
s3.upload_file(os.path.join(work, "big.bin"), bucket, "big.bin")

listing = s3.list_objects_v2(Bucket=bucket)
out["listed"] = [[o["Key"], o["Size"], o["ETag"]] for o in listing.get("Contents", [])]
head = s3.head_object(Bucket=bucket, Key="big.bin")
out["headBig"] = {"ContentLength": head["ContentLength"], "ETag": head["ETag"]}
head_small = s3.head_object(Bucket=bucket, Key=small_key)
out["headSmall"] = {"ContentType": head_small["ContentType"], "Metadata": head_small["Metadata"], "ETag": head_small["ETag"]}

s3.download_file(bucket, "big.bin", os.path.join(work, "big.out"))
got = s3.get_object(Bucket=bucket, Key=small_key)
with open(os.path.join(work, "small.out"), "wb") as f:
    f.write(got["Body"].read())
ranged = s3.get_object(Bucket=bucket, Key="big.bin", Range="bytes=100-199")
out["ranged"] = {"ContentRange": ranged["ContentRange"], "length": len(ranged["Body"].read())}

# BH-32: create-only write (IfNoneMatch exists in boto3 >= 1.35)
try:
    out["ifNoneMatch"] = error_code(lambda: s3.put_object(Bucket=bucket, Key="big.bin", Body=b"x", IfNoneMatch="*"))
except ParamValidationError:
    out["ifNoneMatch"] = "unsupported-by-client"
# BH-12: a Content-MD5 of other bytes
out["badMd5"] = error_code(lambda: s3.put_object(Bucket=bucket, Key="bad-md5", Body=b"data", ContentMD5=base64.b64encode(hashlib.md5(b"other data").digest()).decode()))
# BH-33: HEAD of a missing key
out["headMissing"] = error_code(lambda: s3.head_object(Bucket=bucket, Key="no-such-key"))
out["getMissing"] = error_code(lambda: s3.get_object(Bucket=bucket, Key="no-such-key"))

# BH-39 / BH-13: DeleteObjects verbose, then quiet
verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": small_key}, {"Key": "missing"}]})
out["deletedVerbose"] = sorted(d["Key"] for d in verbose.get("Deleted", []))
out["errorsVerbose"] = verbose.get("Errors", [])
quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "big.bin"}, {"Key": "missing"}], "Quiet": True})
out["deletedQuiet"] = quiet.get("Deleted", [])
out["errorsQuiet"] = quiet.get("Errors", [])
out["left"] = s3.list_objects_v2(Bucket=bucket).get("KeyCount")
s3.delete_bucket(Bucket=bucket)
out["bucketGone"] = error_code(lambda: s3.head_bucket(Bucket=bucket))
print(json.dumps(out))
