#!/bin/bash
# Creates the INVENTORY schema, tables and seed rows in ORCLPDB1 (docker/oracle/inventory.sql, mounted at
# /opt/oracle/inventory). Runs once after 01-logminer.sh. The password comes from the environment.
set -euo pipefail
: "${INVENTORY_ORACLE_PASSWORD:?}"
sqlplus -s / as sysdba @/opt/oracle/inventory/inventory.sql "${INVENTORY_ORACLE_PASSWORD}"
