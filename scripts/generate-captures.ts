// Generates the example captures: Debezium 3.6 JsonConverter records (schemas.enable=true) of the
// `inventory` example database, as `kcat -C -J` lines, one file per Debezium topic.
//
//   npx tsx scripts/generate-captures.ts [--changes N] [--out DIR] [--without-transaction-topic]
//
// Without --out it writes captures/ and the generated seed-row blocks of docker/*/inventory.sql.
//
// Deterministic: a seeded PRNG drives one business simulation (snapshot of the seed rows, then
// customers registering, ordering, paying, shipping, changing e-mail addresses, price changes, …) and
// the very same change log is rendered twice: as the Postgres connector (pgoutput, topic prefix
// dbserver1, schema inventory) and as the Oracle connector (LogMiner, topic prefix server1, PDB
// ORCLPDB1, schema INVENTORY) would write it. Envelope, source-block and field order follow the
// fixtures in /work/shared/fixtures/debezium (Debezium 3.6.1.Final). See docs/example.md.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// ---------------------------------------------------------------------------------------------
// JSON text as Kafka's JsonConverter (Jackson) writes it: compact, int64 exact, doubles like
// Java's Double.toString ("1.0", not "1").

class JavaDouble {
  constructor(readonly value: number) {}
}
type Json = null | boolean | string | number | bigint | JavaDouble | Json[] | { [key: string]: Json };

function javaDouble(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`non-finite double ${v}`);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e7)) {
    // Java: 1.2345E7 style
    const [mant = "", exp = "0"] = v.toExponential().split("e");
    const m = mant.includes(".") ? mant : `${mant}.0`;
    return `${m}E${exp.replace("+", "")}`;
  }
  const s = String(v);
  return s.includes(".") ? s : `${s}.0`;
}

function toJson(v: Json): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Error(`unsafe integer ${v}: use bigint or JavaDouble`);
    return String(v);
  }
  if (v instanceof JavaDouble) return javaDouble(v.value);
  if (Array.isArray(v)) return `[${v.map(toJson).join(",")}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
    .join(",")}}`;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (mulberry32).

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from empty list");
    return item;
  }
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of entries) {
      r -= w;
      if (r < 0) return item;
    }
    const last = entries[entries.length - 1];
    if (last === undefined) throw new Error("weighted pick from empty list");
    return last[0];
  }
}

// ---------------------------------------------------------------------------------------------
// The business model: rows with plain values. Money in cents (bigint), dates in epoch days,
// timestamps in epoch microseconds (bigint).

type OrderStatus = "NEW" | "PAID" | "SHIPPED" | "DELIVERED" | "CANCELLED";
type AddressType = "SHIPPING" | "BILLING" | "LIVING";

interface Customer {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
  /** CRM country code (Oracle flavour only: INVENTORY.CUSTOMERS.CTRY_CD), see countryOf */
  ctry_cd?: string;
}
interface Address {
  id: number;
  customer_id: number;
  street: string;
  city: string;
  state: string;
  zip: string;
  type: AddressType;
}
interface Product {
  id: number;
  name: string;
  description: string | null;
  weight: number | null;
  price: bigint;
}
interface Order {
  id: number;
  order_date: number;
  purchaser: number;
  quantity: number;
  product_id: number;
  status: OrderStatus;
  amount: bigint;
  updated_at: bigint;
}

/** inventory.order_lines: the products of an order, written in the order's transaction */
interface OrderLine {
  order_id: number;
  line_no: number;
  product_id: number;
  quantity: number;
  unit_price: bigint;
}
/** inventory.product_details (Postgres): a TOASTed text under REPLICA IDENTITY DEFAULT */
interface ProductDetail {
  product_id: number;
  tagline: string;
  long_description: string;
}
/** INVENTORY.CODE_TRANSLATIONS (Oracle): the CRM's code table, composite key (CODE_TYPE, CODE) */
interface CodeTranslation {
  code_type: string;
  code: string;
  label: string;
}

type TableName =
  "customers" | "addresses" | "products" | "orders" | "order_lines" | "product_details" | "code_translations";
type RowOf = {
  customers: Customer;
  addresses: Address;
  products: Product;
  orders: Order;
  order_lines: OrderLine;
  product_details: ProductDetail;
  code_translations: CodeTranslation;
};
type AnyRow = RowOf[TableName];

interface Change {
  table: TableName;
  /** "u" whose before and after keys differ is a primary-key change (Debezium: delete + tombstone + create) */
  op: "c" | "u" | "d";
  before: AnyRow | null;
  after: AnyRow | null;
  /** what the application did, for the summary */
  action: string;
  /**
   * Added after the original simulation (tables and transactions of the stateful features): rendered with
   * their own randomness and log positions between the original ones, so every original record keeps its
   * bytes, positions and ce_ids.
   */
  extra?: boolean;
  /** only this connector's database has the change (the CRM columns and code table are Oracle's) */
  only?: "postgresql" | "oracle";
}
interface Tx {
  /** statement time (now() / SYSTIMESTAMP) in epoch µs */
  startUs: bigint;
  /** commit time in epoch µs */
  commitUs: bigint;
  changes: Change[];
  /** a transaction of the epilogue (rendered with its own randomness, after every original one) */
  extra?: boolean;
}
interface Simulation {
  snapshotUs: bigint;
  snapshot: { table: TableName; rows: AnyRow[] }[];
  txs: Tx[];
  endUs: bigint;
}
/** The rows as the original simulation left them (the epilogue goes on from here). */
interface FinalState {
  customers: Map<number, Customer>;
  addresses: Map<number, Address>;
  products: Map<number, Product>;
  orders: Map<number, Order>;
  emails: Set<string>;
  next: { customer: number; address: number; order: number; product: number };
}

const DAY_US = 86_400_000_000n;
/** "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" → epoch µs, keeping the microseconds */
const iso = (s: string): bigint => {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(s);
  if (!m?.[1]) throw new Error(`bad timestamp ${s}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt((m[2] ?? "").padEnd(6, "0"));
};
const days = (s: string): number => Date.parse(`${s}T00:00:00Z`) / 86_400_000;

/** Seed rows: the Debezium tutorial `inventory` data, extended with prices, statuses and amounts. */
function seed(): { customers: Customer[]; addresses: Address[]; products: Product[]; orders: Order[] } {
  const customers: Customer[] = [
    { id: 1001, first_name: "Sally", last_name: "Thomas", email: "sally.thomas@acme.com" },
    { id: 1002, first_name: "George", last_name: "Bailey", email: "gbailey@foobar.com" },
    { id: 1003, first_name: "Edward", last_name: "Walker", email: "ed@walker.com" },
    { id: 1004, first_name: "Anne", last_name: "Kretchmar", email: "annek@noanswer.org" },
  ];
  const a = (
    id: number,
    customer_id: number,
    street: string,
    city: string,
    state: string,
    zip: string,
    type: AddressType,
  ): Address => ({ id, customer_id, street, city, state, zip, type });
  const addresses: Address[] = [
    a(10, 1001, "3183 Moore Avenue", "Euless", "Texas", "76036", "SHIPPING"),
    a(11, 1001, "2389 Hidden Valley Road", "Harrisburg", "Pennsylvania", "17116", "BILLING"),
    a(12, 1002, "281 Riverside Drive", "Augusta", "Georgia", "30901", "BILLING"),
    a(13, 1003, "3787 Brownton Road", "Columbus", "Mississippi", "39701", "SHIPPING"),
    a(14, 1003, "2458 Lost Creek Road", "Bethlehem", "Pennsylvania", "18018", "SHIPPING"),
    a(15, 1003, "4800 Simpson Square", "Hillsdale", "Oklahoma", "74743", "BILLING"),
    a(16, 1004, "1289 University Hill Road", "Canehill", "Arkansas", "72717", "LIVING"),
  ];
  const p = (id: number, name: string, description: string, weight: number, price: bigint): Product => ({
    id,
    name,
    description,
    weight,
    price,
  });
  const products: Product[] = [
    p(101, "scooter", "Small 2-wheel scooter", 3.14, 24900n),
    p(102, "car battery", "12V car battery", 8.1, 8999n),
    p(103, "12-pack drill bits", "12-pack of drill bits with sizes ranging from #40 to #3", 0.8, 1249n),
    p(104, "hammer", "12oz carpenter's hammer", 0.75, 1499n),
    p(105, "hammer", "14oz carpenter's hammer", 0.875, 1799n),
    p(106, "hammer", "16oz carpenter's hammer", 1.0, 1999n),
    p(107, "rocks", "box of assorted rocks", 5.3, 450n),
    p(108, "jacket", "water resistent black wind breaker", 0.1, 5995n),
    p(109, "spare tire", "24 inch spare tire", 22.2, 12000n),
  ];
  const o = (
    id: number,
    date: string,
    purchaser: number,
    quantity: number,
    product_id: number,
    status: OrderStatus,
    amount: bigint,
    updated: string,
  ): Order => ({
    id,
    order_date: days(date),
    purchaser,
    quantity,
    product_id,
    status,
    amount,
    updated_at: iso(updated),
  });
  const orders: Order[] = [
    o(10001, "2016-01-16", 1001, 1, 102, "DELIVERED", 8999n, "2016-01-20T14:02:11.504118Z"),
    o(10002, "2016-01-17", 1002, 2, 105, "DELIVERED", 3598n, "2016-01-22T09:41:57.130226Z"),
    o(10003, "2016-02-19", 1002, 2, 106, "SHIPPED", 3998n, "2016-02-22T16:20:03.877310Z"),
    o(10004, "2016-02-21", 1003, 1, 107, "PAID", 450n, "2016-02-21T11:05:48.019552Z"),
  ];
  return { customers, addresses, products, orders };
}

const FIRST_NAMES = [
  "Olivia",
  "Liam",
  "Emma",
  "Noah",
  "Ava",
  "Elijah",
  "Sophia",
  "James",
  "Isabella",
  "Lucas",
  "Mia",
  "Mateo",
  "Amelia",
  "Benjamin",
  "Harper",
  "Henry",
  "Evelyn",
  "Theodore",
  "Aria",
  "Jack",
  "Zoë",
  "José",
  "Søren",
  "Łukasz",
  "Chloé",
  "Ingrid",
  "Rahul",
  "Aiko",
  "Fatima",
  "Kwame",
  "Priya",
  "Mei",
  "Omar",
  "Nadia",
  "Diego",
];
const LAST_NAMES = [
  "Smith",
  "Johnson",
  "Williams",
  "Brown",
  "Jones",
  "Garcia",
  "Miller",
  "Davis",
  "Rodriguez",
  "Martinez",
  "Hernandez",
  "Lopez",
  "Wilson",
  "Anderson",
  "Taylor",
  "Moore",
  "Jackson",
  "Martin",
  "Lee",
  "Thompson",
  "Müller",
  "Østergaard",
  "Nowak",
  "O'Brien",
  "Nguyen",
  "Kim",
  "Okafor",
  "Patel",
  "Sato",
  "Haddad",
];
const MAIL_DOMAINS = ["example.com", "mail.example.org", "inbox.example.net", "acme.com", "foobar.com"];
const STREETS = [
  "Maple Street",
  "Oak Avenue",
  "Pine Road",
  "Cedar Lane",
  "Elm Street",
  "Washington Boulevard",
  "Lake Drive",
  "Hillcrest Road",
  "Sunset Boulevard",
  "River Road",
  "Park Avenue",
  "Church Street",
  "Mill Lane",
  "Highland Avenue",
];
const CITIES: readonly (readonly [string, string, string])[] = [
  ["Austin", "Texas", "787"],
  ["Portland", "Oregon", "972"],
  ["Denver", "Colorado", "802"],
  ["Madison", "Wisconsin", "537"],
  ["Raleigh", "North Carolina", "276"],
  ["Boise", "Idaho", "837"],
  ["Savannah", "Georgia", "314"],
  ["Tucson", "Arizona", "857"],
  ["Burlington", "Vermont", "054"],
  ["Omaha", "Nebraska", "681"],
  ["Albany", "New York", "122"],
  ["Fresno", "California", "937"],
];
const NEW_PRODUCTS: readonly (readonly [string, string | null, number | null, bigint])[] = [
  ["cordless drill", "18V cordless drill with two batteries", 1.9, 12999n],
  ["work gloves", "pair of leather work gloves", 0.25, 1599n],
  ["tape measure", "25 ft tape measure", 0.4, 999n],
  ["safety glasses", null, 0.05, 749n],
  ["wheelbarrow", "6 cu ft steel wheelbarrow", 24.5, 8950n],
  ["garden hose", "50 ft garden hose", 3.6, 2999n],
  ["headlamp", "rechargeable LED headlamp", 0.12, 2450n],
  ["gift card", "store gift card", null, 5000n],
  ["ladder", "6 ft aluminium step ladder", 8.0, 11900n],
  ["toolbox", "19 inch plastic toolbox", 2.2, 2199n],
];

function simulate(targetChanges: number): Simulation & { state: FinalState } {
  const rng = new Rng(0x1d2c3b4a);
  const s = seed();
  const customers = new Map<number, Customer>(s.customers.map((c) => [c.id, c]));
  const addresses = new Map<number, Address>(s.addresses.map((a) => [a.id, a]));
  const products = new Map<number, Product>(s.products.map((p) => [p.id, p]));
  const orders = new Map<number, Order>(s.orders.map((o) => [o.id, o]));
  const emails = new Set(s.customers.map((c) => c.email));
  let nextCustomer = 1005;
  let nextAddress = 17;
  let nextProduct = 110;
  let nextOrder = 10005;
  let newProductIndex = 0;

  const snapshotUs = iso("2024-03-15T09:00:00.412518Z");
  // Debezium snapshots the captured tables in table-id order.
  const snapshot: Simulation["snapshot"] = [
    { table: "addresses", rows: [...addresses.values()].map((r) => ({ ...r })) },
    { table: "customers", rows: [...customers.values()].map((r) => ({ ...r })) },
    { table: "orders", rows: [...orders.values()].map((r) => ({ ...r })) },
    { table: "products", rows: [...products.values()].map((r) => ({ ...r })) },
  ];

  let clock = snapshotUs + 45_000_000n;
  const txs: Tx[] = [];
  let total = 0;

  const values = <T>(m: Map<number, T>): T[] => [...m.values()];
  const newEmail = (first: string, last: string): string => {
    const ascii = (x: string): string =>
      x
        .normalize("NFD")
        .replace(/[\u0300-\u036f]/g, "")
        .replace(/Ł/g, "L")
        .replace(/ł/g, "l")
        .replace(/Ø/g, "O")
        .replace(/ø/g, "o")
        .replace(/[^A-Za-z]/g, "")
        .toLowerCase();
    for (;;) {
      const style = rng.int(0, 2);
      const local =
        style === 0
          ? `${ascii(first)}.${ascii(last)}`
          : style === 1
            ? `${ascii(first).slice(0, 1)}${ascii(last)}${rng.int(1, 99)}`
            : `${ascii(first)}${rng.int(100, 9999)}`;
      const email = `${local}@${rng.pick(MAIL_DOMAINS)}`;
      if (!emails.has(email)) {
        emails.add(email);
        return email;
      }
    }
  };
  const newAddress = (customerId: number, type: AddressType): Address => {
    const [city, state, zip3] = rng.pick(CITIES);
    return {
      id: nextAddress++,
      customer_id: customerId,
      street: `${rng.int(10, 9899)} ${rng.pick(STREETS)}`,
      city,
      state,
      zip: `${zip3}${String(rng.int(1, 99)).padStart(2, "0")}`,
      type,
    };
  };

  for (;;) {
    if (total >= targetChanges) break;
    clock += BigInt(rng.int(1_500, 40_000)) * 1000n + BigInt(rng.int(0, 999));
    const startUs = clock;
    const changes: Change[] = [];
    const insert = <T extends TableName>(table: T, row: RowOf[T], action: string): void => {
      changes.push({ table, op: "c", before: null, after: { ...row }, action });
    };
    const update = <T extends TableName>(
      table: T,
      before: RowOf[T],
      after: RowOf[T],
      action: string,
    ): void => {
      changes.push({ table, op: "u", before: { ...before }, after: { ...after }, action });
    };
    const remove = <T extends TableName>(table: T, before: RowOf[T], action: string): void => {
      changes.push({ table, op: "d", before: { ...before }, after: null, action });
    };
    const setOrder = (o: Order, patch: Partial<Order>, action: string): void => {
      const next: Order = { ...o, ...patch, updated_at: startUs };
      update("orders", o, next, action);
      orders.set(o.id, next);
    };
    const registerCustomer = (): Customer => {
      const first = rng.pick(FIRST_NAMES);
      const last = rng.pick(LAST_NAMES);
      const c: Customer = {
        id: nextCustomer++,
        first_name: first,
        last_name: last,
        email: newEmail(first, last),
      };
      customers.set(c.id, c);
      insert("customers", c, "register customer");
      const home = newAddress(c.id, rng.chance(0.7) ? "SHIPPING" : "LIVING");
      addresses.set(home.id, home);
      insert("addresses", home, "register customer");
      if (rng.chance(0.35)) {
        const billing = newAddress(c.id, "BILLING");
        addresses.set(billing.id, billing);
        insert("addresses", billing, "register customer");
      }
      return c;
    };
    const placeOrder = (purchaser: number): void => {
      const lines = rng.chance(0.2) ? rng.int(2, 3) : 1;
      const used = new Set<number>();
      const paid = rng.chance(0.3);
      for (let i = 0; i < lines; i++) {
        const product = rng.pick(values(products));
        if (used.has(product.id)) continue;
        used.add(product.id);
        const quantity = rng.chance(0.7) ? 1 : rng.int(2, 6);
        const o: Order = {
          id: nextOrder++,
          order_date: Number(startUs / DAY_US),
          purchaser,
          quantity,
          product_id: product.id,
          status: paid ? "PAID" : "NEW",
          amount: product.price * BigInt(quantity),
          updated_at: startUs,
        };
        orders.set(o.id, o);
        insert("orders", o, paid ? "place paid order" : "place order");
      }
    };
    const inStatus = (status: OrderStatus): Order[] => values(orders).filter((o) => o.status === status);

    const action = rng.weighted([
      ["register", 7],
      ["order", 22],
      ["order-new-customer", 3],
      ["pay", 14],
      ["ship", 11],
      ["ship-batch", 2],
      ["deliver", 11],
      ["cancel", 4],
      ["amend", 3],
      ["touch-order", 3],
      ["email", 5],
      ["name", 2],
      ["noop-customer", 3],
      ["price", 4],
      ["price-batch", 1],
      ["product-details", 2],
      ["new-product", 1],
      ["add-address", 3],
      ["change-address", 3],
      ["noop-address", 1],
      ["remove-address", 2],
      ["delete-customer", 1],
      ["purge-cancelled", 1],
    ] as const);

    switch (action) {
      case "register":
        registerCustomer();
        break;
      case "order":
        placeOrder(rng.pick(values(customers)).id);
        break;
      case "order-new-customer":
        placeOrder(registerCustomer().id);
        break;
      case "pay": {
        const open = inStatus("NEW");
        if (open.length > 0) setOrder(rng.pick(open), { status: "PAID" }, "pay order");
        break;
      }
      case "ship":
      case "ship-batch": {
        const paid = inStatus("PAID");
        const n = action === "ship" ? 1 : rng.int(2, 4);
        for (let i = 0; i < n && paid.length > 0; i++) {
          const o = paid.splice(rng.int(0, paid.length - 1), 1)[0];
          if (o) setOrder(o, { status: "SHIPPED" }, "ship order");
        }
        break;
      }
      case "deliver": {
        const shipped = inStatus("SHIPPED");
        if (shipped.length > 0) setOrder(rng.pick(shipped), { status: "DELIVERED" }, "deliver order");
        break;
      }
      case "cancel": {
        const open = [...inStatus("NEW"), ...inStatus("PAID")];
        if (open.length > 0) setOrder(rng.pick(open), { status: "CANCELLED" }, "cancel order");
        break;
      }
      case "amend": {
        const open = inStatus("NEW");
        if (open.length > 0) {
          const o = rng.pick(open);
          const product = products.get(o.product_id);
          const quantity = o.quantity + 1;
          if (product)
            setOrder(o, { quantity, amount: product.price * BigInt(quantity) }, "amend order (no event)");
        }
        break;
      }
      case "touch-order": {
        const live = values(orders).filter((o) => o.status !== "CANCELLED" && o.status !== "DELIVERED");
        if (live.length > 0) setOrder(rng.pick(live), {}, "touch order updated_at (no event)");
        break;
      }
      case "email": {
        const c = rng.pick(values(customers));
        const next = { ...c, email: newEmail(c.first_name, c.last_name) };
        emails.delete(c.email);
        update("customers", c, next, "change e-mail");
        customers.set(c.id, next);
        break;
      }
      case "name": {
        const c = rng.pick(values(customers));
        const next = { ...c, last_name: rng.pick(LAST_NAMES) };
        if (next.last_name === c.last_name) next.first_name = rng.pick(FIRST_NAMES);
        update("customers", c, next, "change name");
        customers.set(c.id, next);
        break;
      }
      case "noop-customer": {
        const c = rng.pick(values(customers));
        update("customers", c, c, "UPDATE customers SET email = email (no event)");
        break;
      }
      case "price":
      case "price-batch": {
        const all = values(products);
        const n = action === "price" ? 1 : rng.int(3, 5);
        for (let i = 0; i < n && all.length > 0; i++) {
          const p = all.splice(rng.int(0, all.length - 1), 1)[0];
          if (!p) continue;
          const pct = BigInt(rng.pick([-15, -10, -5, 5, 8, 10, 12, 20]));
          let price = (p.price * (100n + pct)) / 100n;
          price = (price / 100n) * 100n + (rng.chance(0.6) ? 99n : 49n);
          if (price <= 0n) price = 99n;
          const next = { ...p, price };
          update("products", p, next, action === "price" ? "change price" : "seasonal price change");
          products.set(p.id, next);
        }
        break;
      }
      case "product-details": {
        const p = rng.pick(values(products));
        const next: Product = rng.chance(0.5)
          ? { ...p, description: `${p.description ?? p.name} (new packaging)` }
          : { ...p, weight: p.weight === null ? 0.5 : Math.round(p.weight * 1.05 * 1000) / 1000 };
        update("products", p, next, "change description/weight (no event)");
        products.set(p.id, next);
        break;
      }
      case "new-product": {
        const spec = NEW_PRODUCTS[newProductIndex++ % NEW_PRODUCTS.length];
        if (!spec) break;
        const [name, description, weight, price] = spec;
        const p: Product = { id: nextProduct++, name, description, weight, price };
        products.set(p.id, p);
        insert("products", p, "add product");
        break;
      }
      case "add-address": {
        const c = rng.pick(values(customers));
        const a = newAddress(c.id, rng.pick(["SHIPPING", "BILLING", "LIVING"] as const));
        addresses.set(a.id, a);
        insert("addresses", a, "add address");
        break;
      }
      case "change-address": {
        const a = rng.pick(values(addresses));
        const moved = newAddress(a.customer_id, a.type);
        nextAddress--;
        const next: Address = rng.chance(0.5)
          ? { ...moved, id: a.id }
          : { ...a, street: a.street.replace(/^\d+/, String(rng.int(10, 9899))) };
        update("addresses", a, next, "change address");
        addresses.set(a.id, next);
        break;
      }
      case "noop-address": {
        const a = rng.pick(values(addresses));
        update("addresses", a, a, "UPDATE addresses SET zip = zip (no event)");
        break;
      }
      case "remove-address": {
        const byCustomer = new Map<number, Address[]>();
        for (const a of addresses.values())
          byCustomer.set(a.customer_id, [...(byCustomer.get(a.customer_id) ?? []), a]);
        const candidates = [...byCustomer.values()].filter((l) => l.length > 1).flat();
        if (candidates.length > 0) {
          const a = rng.pick(candidates);
          remove("addresses", a, "remove address");
          addresses.delete(a.id);
        }
        break;
      }
      case "delete-customer": {
        const withOrders = new Set(values(orders).map((o) => o.purchaser));
        const idle = values(customers).filter((c) => !withOrders.has(c.id) && c.id > 1004);
        if (idle.length > 0) {
          const c = rng.pick(idle);
          for (const a of values(addresses).filter((x) => x.customer_id === c.id)) {
            remove("addresses", a, "delete customer");
            addresses.delete(a.id);
          }
          remove("customers", c, "delete customer");
          customers.delete(c.id);
          emails.delete(c.email);
        }
        break;
      }
      case "purge-cancelled": {
        const cancelled = inStatus("CANCELLED");
        if (cancelled.length > 0) {
          const o = rng.pick(cancelled);
          remove("orders", o, "purge cancelled order (no event)");
          orders.delete(o.id);
        }
        break;
      }
    }
    if (changes.length === 0) continue;
    clock += BigInt(changes.length * rng.int(300, 2_500) + rng.int(200, 4_000));
    txs.push({ startUs, commitUs: clock, changes });
    total += changes.length;
  }
  return {
    snapshotUs,
    snapshot,
    txs,
    endUs: clock + 30_000_000n,
    state: {
      customers,
      addresses,
      products,
      orders,
      emails,
      next: { customer: nextCustomer, address: nextAddress, order: nextOrder, product: nextProduct },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The stateful features' data, added on top of the original simulation without moving it: every original
// change keeps its place, values and log position (so its events and ce_ids stay the same); the additions
// are changes appended to original transactions (an order's lines, a product's details) and an epilogue of
// transactions after the last original one. They draw from their own seeded PRNG.

const COUNTRIES: readonly (readonly [string, string, number])[] = [
  ["US", "United States", 50],
  ["CA", "Canada", 10],
  ["UK", "United Kingdom", 10],
  ["DE", "Germany", 8],
  ["FR", "France", 6],
  ["MX", "Mexico", 5],
  ["JP", "Japan", 4],
  ["IN", "India", 4],
  ["BR", "Brazil", 3],
];
const STATUS_LABELS: readonly (readonly [OrderStatus, string])[] = [
  ["NEW", "New"],
  ["PAID", "Paid"],
  ["SHIPPED", "Shipped"],
  ["DELIVERED", "Delivered"],
  ["CANCELLED", "Cancelled"],
];

/** A customer's CRM country, a function of the id only (the tutorial's four customers are in the US). */
function countryOf(id: number): string {
  if (id <= 1004) return "US";
  return new Rng(Math.imul(id, 0x9e3779b1)).weighted(COUNTRIES.map(([code, , w]) => [code, w] as const));
}

const TAGLINES = [
  "Built to last",
  "Our best seller",
  "Now with a longer warranty",
  "Loved by professionals",
  "Back in stock",
  "Limited edition",
  "Award-winning design",
];
const PARAGRAPHS = [
  "Every unit is inspected by hand before it leaves our warehouse, and we stand behind it with a no-questions-asked return policy for the first ninety days after delivery.",
  "The materials were chosen for durability first: powder-coated steel where it takes the load, reinforced polymer where weight matters, and stainless fasteners throughout.",
  "Care instructions: wipe clean with a damp cloth, keep away from open flames and solvents, store in a dry place and check the moving parts once a season.",
  "Independent testers put it through twelve thousand cycles of simulated use without a single failure, well beyond what a household will ever ask of it.",
  "Shipping: dispatched within two working days in recyclable packaging; oversize items travel by freight and are delivered to the kerb by appointment.",
  "What customers say: sturdy, honest, does exactly what the label promises; several reviewers mention buying a second one as a gift for a friend or relative.",
  "Compliance: meets the applicable safety standards of the markets we sell in; the declaration of conformity and the full test report are available on request.",
];
/** A text well over Postgres' TOAST threshold (2 kB), so an update that does not touch it omits it. */
function longDescription(name: string, seed: number): string {
  const r = new Rng(seed);
  const parts = [`The ${name}.`];
  while (parts.join(" ").length < 2600) parts.push(r.pick(PARAGRAPHS));
  return parts.join(" ");
}

function productDetail(p: Product, r: Rng): ProductDetail {
  return {
    product_id: p.id,
    tagline: r.pick(TAGLINES),
    long_description: longDescription(p.name, p.id * 31 + 7),
  };
}

/** Adds the order lines, product details, CRM codes and the epilogue to the simulation, in place. */
function extend(sim: Simulation & { state: FinalState }): void {
  const rng = new Rng(0x57a7e000);
  const lines = new Map<number, OrderLine[]>();
  const details = new Map<number, ProductDetail>();
  const codes = new Map<string, CodeTranslation>();
  const code = (c: CodeTranslation): CodeTranslation => {
    codes.set(`${c.code_type}/${c.code}`, c);
    return c;
  };
  const lineOf = (o: Order): OrderLine => ({
    order_id: o.id,
    line_no: 1,
    product_id: o.product_id,
    quantity: o.quantity,
    unit_price: o.amount / BigInt(o.quantity),
  });
  const withCountry = (row: AnyRow | null): void => {
    if (row !== null && "email" in row) row.ctry_cd = countryOf(row.id);
  };

  // --- snapshot: the CRM column and the new tables' seed rows --------------------------------
  for (const t of sim.snapshot) for (const row of t.rows) if (t.table === "customers") withCountry(row);
  const seedOrders = sim.snapshot.find((t) => t.table === "orders")?.rows as Order[];
  const seedProducts = sim.snapshot.find((t) => t.table === "products")?.rows as Product[];
  const seedLines = seedOrders.map(lineOf);
  for (const l of seedLines) lines.set(l.order_id, [l]);
  const seedDetails = seedProducts.map((p) => productDetail(p, rng));
  for (const d of seedDetails) details.set(d.product_id, d);
  const seedCodes = [
    ...COUNTRIES.map(([c, label]) => code({ code_type: "COUNTRY", code: c, label })),
    ...STATUS_LABELS.map(([c, label]) => code({ code_type: "ORDER_STATUS", code: c, label })),
  ];
  // Debezium snapshots the tables in table-id order: the new ones slot in by name
  const at = (name: TableName): number => sim.snapshot.findIndex((t) => t.table > name);
  sim.snapshot.splice(at("code_translations"), 0, { table: "code_translations", rows: seedCodes });
  sim.snapshot.splice(at("order_lines"), 0, { table: "order_lines", rows: seedLines });
  sim.snapshot.splice(at("product_details"), 0, { table: "product_details", rows: seedDetails });

  // --- additions to the original transactions ------------------------------------------------
  const added = (
    table: TableName,
    op: Change["op"],
    before: AnyRow | null,
    after: AnyRow | null,
    action: string,
  ): Change => ({
    table,
    op,
    before: before === null ? null : { ...before },
    after: after === null ? null : { ...after },
    action,
    extra: true,
  });
  for (const tx of sim.txs) {
    const more: Change[] = [];
    for (const ch of tx.changes) {
      if (ch.table === "customers") {
        withCountry(ch.before);
        withCountry(ch.after);
      }
      if (ch.table === "orders") {
        const o = (ch.after ?? ch.before) as Order;
        const current = lines.get(o.id)?.[0];
        if (ch.op === "c") {
          const l = lineOf(o);
          lines.set(o.id, [l]);
          more.push(added("order_lines", "c", null, l, ch.action));
        } else if (ch.op === "d" && current) {
          lines.delete(o.id);
          more.push(added("order_lines", "d", current, null, ch.action));
        } else if (ch.op === "u" && current && ch.before && (ch.before as Order).quantity !== o.quantity) {
          const l = { ...current, quantity: o.quantity };
          lines.set(o.id, [l]);
          more.push(added("order_lines", "u", current, l, ch.action));
        }
      }
      if (ch.table === "products" && ch.op === "c") {
        const d = productDetail(ch.after as Product, rng);
        details.set(d.product_id, d);
        more.push(added("product_details", "c", null, d, ch.action));
      }
      if (ch.table === "products" && ch.action.startsWith("change description/weight")) {
        const d = details.get((ch.after as Product).id);
        if (d) {
          const next = { ...d, tagline: rng.pick(TAGLINES.filter((t) => t !== d.tagline)) };
          details.set(d.product_id, next);
          more.push(added("product_details", "u", d, next, "change tagline (TOAST text unchanged)"));
        }
      }
    }
    if (more.length > 5)
      throw new Error("more than 5 added changes in one transaction: they would not fit its LSNs");
    tx.changes.push(...more);
  }

  epilogue(sim, rng, { lines, details, codes });
}

/** Transactions after the original ones: what the stateful features are for, each at least once. */
function epilogue(
  sim: Simulation & { state: FinalState },
  rng: Rng,
  t: {
    lines: Map<number, OrderLine[]>;
    details: Map<number, ProductDetail>;
    codes: Map<string, CodeTranslation>;
  },
): void {
  const st = sim.state;
  const last = sim.txs[sim.txs.length - 1];
  let clock = last === undefined ? sim.snapshotUs : last.commitUs;
  const tx = (changes: Change[]): void => {
    clock += BigInt(rng.int(4_000, 45_000)) * 1000n + BigInt(rng.int(0, 999));
    const startUs = clock;
    clock += BigInt(changes.length * rng.int(300, 2_500) + rng.int(200, 4_000));
    for (const ch of changes) {
      ch.extra = true;
      const row = ch.after as Order | null;
      if (ch.table === "orders" && row !== null) row.updated_at = startUs;
    }
    sim.txs.push({ startUs, commitUs: clock, changes, extra: true });
  };
  const c = (
    table: TableName,
    op: Change["op"],
    before: AnyRow | null,
    after: AnyRow | null,
    action: string,
    only?: Change["only"],
  ): Change => ({
    table,
    op,
    before: before === null ? null : { ...before },
    after: after === null ? null : { ...after },
    action,
    ...(only ? { only } : {}),
  });
  const today = (): number => Number(clock / DAY_US);
  const products = [...st.products.values()];
  /** an order with 2-3 lines; amount = the lines' total */
  const multiLineOrder = (purchaser: number, status: OrderStatus): Change[] => {
    const id = st.next.order++;
    const n = rng.int(2, 3);
    const picked = new Set<number>();
    const ls: OrderLine[] = [];
    while (ls.length < n) {
      const p = rng.pick(products);
      if (picked.has(p.id)) continue;
      picked.add(p.id);
      ls.push({
        order_id: id,
        line_no: ls.length + 1,
        product_id: p.id,
        quantity: rng.int(1, 4),
        unit_price: p.price,
      });
    }
    const first = ls[0] as OrderLine;
    const o: Order = {
      id,
      order_date: today(),
      purchaser,
      quantity: first.quantity,
      product_id: first.product_id,
      status,
      amount: ls.reduce((s, l) => s + l.unit_price * BigInt(l.quantity), 0n),
      updated_at: clock,
    };
    st.orders.set(id, o);
    t.lines.set(id, ls);
    return [
      c("orders", "c", null, o, "place multi-line order"),
      ...ls.map((l) => c("order_lines", "c", null, l, "place multi-line order")),
    ];
  };
  const newCustomer = (id: number, ctry: string): Change[] => {
    const first = rng.pick(FIRST_NAMES);
    const lastName = rng.pick(LAST_NAMES);
    const email = `${first
      .normalize("NFD")
      .replace(/[^A-Za-z]/g, "")
      .toLowerCase()}.${id}@shop.example.com`;
    const cu: Customer = { id, first_name: first, last_name: lastName, email, ctry_cd: ctry };
    st.customers.set(id, cu);
    const [city, state, zip3] = rng.pick(CITIES);
    const a: Address = {
      id: st.next.address++,
      customer_id: id,
      street: `${rng.int(10, 9899)} ${rng.pick(STREETS)}`,
      city,
      state,
      zip: `${zip3}${String(rng.int(1, 99)).padStart(2, "0")}`,
      type: "SHIPPING",
    };
    st.addresses.set(a.id, a);
    return [
      c("customers", "c", null, cu, "web-shop customer synced to the CRM"),
      c("addresses", "c", null, a, "web-shop customer synced to the CRM"),
    ];
  };
  const setStatus = (id: number, status: OrderStatus, action: string): Change => {
    const o = st.orders.get(id) as Order;
    const next = { ...o, status, updated_at: clock };
    st.orders.set(id, next);
    return c("orders", "u", o, next, action);
  };
  const relabel = (type: string, codeValue: string, label: string): Change => {
    const before = t.codes.get(`${type}/${codeValue}`) as CodeTranslation;
    const after = { ...before, label };
    t.codes.set(`${type}/${codeValue}`, after);
    return c("code_translations", "u", before, after, "relabel a code", "oracle");
  };

  // the CRM renames a status label and adds a country
  tx([relabel("ORDER_STATUS", "SHIPPED", "Dispatched")]);
  const nz: CodeTranslation = { code_type: "COUNTRY", code: "NZ", label: "New Zealand" };
  t.codes.set("COUNTRY/NZ", nz);
  tx([c("code_translations", "c", null, nz, "add a country code", "oracle")]);

  // a web-shop import: orders of two customers the CRM does not know yet (their records follow later)
  const importedA = st.next.customer++;
  const importedB = st.next.customer++;
  const imported = [
    ...multiLineOrder(importedA, "PAID"),
    ...multiLineOrder(importedB, "NEW"),
    ...multiLineOrder(importedA, "NEW"),
  ];
  tx(imported);
  const importedOrders = imported.filter((ch) => ch.table === "orders").map((ch) => (ch.after as Order).id);

  // multi-line orders of known customers
  const known = [...st.customers.values()].filter((cu) => cu.id > 1004);
  const multi: number[] = [];
  for (let i = 0; i < 3; i++) {
    const changes = multiLineOrder(rng.pick(known).id, i === 0 ? "PAID" : "NEW");
    multi.push((changes[0]?.after as Order).id);
    tx(changes);
  }
  tx(newCustomer(importedA, "NZ"));
  tx([setStatus(importedOrders[0] as number, "SHIPPED", "ship imported order")]);
  tx(newCustomer(importedB, countryOf(importedB)));
  tx([setStatus(importedOrders[1] as number, "PAID", "pay imported order")]);

  // the CRM corrects a code: COUNTRY UK becomes GB (a primary-key change), then the customers follow
  const uk = t.codes.get("COUNTRY/UK") as CodeTranslation;
  const gb = { ...uk, code: "GB" };
  t.codes.delete("COUNTRY/UK");
  t.codes.set("COUNTRY/GB", gb);
  tx([c("code_translations", "u", uk, gb, "rename a country code (primary-key change)", "oracle")]);
  const ukCustomers = [...st.customers.values()]
    .map((cu) => ({ ...cu, ctry_cd: cu.ctry_cd ?? countryOf(cu.id) }))
    .filter((cu) => cu.ctry_cd === "UK");
  const moved = ukCustomers.map((cu) => {
    const next = { ...cu, ctry_cd: "GB" };
    st.customers.set(cu.id, next);
    return c("customers", "u", cu, next, "move customers to the renamed country code", "oracle");
  });
  for (let i = 0; i < moved.length; i += 8) tx(moved.slice(i, i + 8));

  // an order loses its first line and the others are renumbered (primary-key changes of order_lines)
  const amended = multi[1] as number;
  const ls = t.lines.get(amended) as OrderLine[];
  const renumber: Change[] = [c("order_lines", "d", ls[0] as OrderLine, null, "remove an order line")];
  const kept = ls.slice(1).map((l, i) => ({ ...l, line_no: i + 1 }));
  ls.slice(1).forEach((l, i) =>
    renumber.push(
      c("order_lines", "u", l, kept[i] as OrderLine, "renumber order lines (primary-key change)"),
    ),
  );
  const o = st.orders.get(amended) as Order;
  const lead = kept[0] as OrderLine;
  const amount = kept.reduce((s, l) => s + l.unit_price * BigInt(l.quantity), 0n);
  const next = { ...o, product_id: lead.product_id, quantity: lead.quantity, amount, updated_at: clock };
  st.orders.set(amended, next);
  renumber.unshift(c("orders", "u", o, next, "amend order (no event)"));
  t.lines.set(amended, kept);
  tx(renumber);

  // product details: taglines change (the TOASTed text is not sent), texts are rewritten
  const withDetails = [...t.details.values()];
  for (let i = 0; i < 4; i++) {
    const d = rng.pick(withDetails);
    const cur = t.details.get(d.product_id) as ProductDetail;
    const after = { ...cur, tagline: rng.pick(TAGLINES.filter((x) => x !== cur.tagline)) };
    t.details.set(d.product_id, after);
    tx([c("product_details", "u", cur, after, "change tagline (TOAST text unchanged)")]);
  }
  for (let i = 0; i < 2; i++) {
    const d = rng.pick(withDetails);
    const cur = t.details.get(d.product_id) as ProductDetail;
    const p = st.products.get(d.product_id) as Product;
    const after = { ...cur, long_description: longDescription(p.name, d.product_id * 31 + 100 + i) };
    if (i === 1) after.tagline = rng.pick(TAGLINES.filter((x) => x !== cur.tagline));
    t.details.set(d.product_id, after);
    tx([c("product_details", "u", cur, after, "rewrite the product text")]);
  }
  tx(multiLineOrder(importedB, "PAID"));
  sim.endUs = clock + 30_000_000n;
}

// ---------------------------------------------------------------------------------------------
// Rendering: connector flavours.

/** Java BigInteger.toByteArray (minimal big-endian two's complement) as base64. */
function decimalBytes(unscaled: bigint): string {
  let len = 1;
  while (unscaled < -(1n << BigInt(8 * len - 1)) || unscaled >= 1n << BigInt(8 * len - 1)) len++;
  const modulus = 1n << BigInt(8 * len);
  const hexText = (((unscaled % modulus) + modulus) % modulus).toString(16).padStart(2 * len, "0");
  return Buffer.from(hexText, "hex").toString("base64");
}

const pad = (n: number | bigint, w: number): string => String(n).padStart(w, "0");

/** epoch µs → "YYYY-MM-DDTHH:MM:SS.ffffff" + suffix, shifted by offsetMinutes (wall clock in that offset) */
function zoned(us: bigint, offsetMinutes: number): string {
  const shifted = us + BigInt(offsetMinutes) * 60_000_000n;
  const ms = Number(shifted / 1000n);
  const d = new Date(ms);
  const frac = pad(((shifted % 1_000_000n) + 1_000_000n) % 1_000_000n, 6);
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${frac}`;
  if (offsetMinutes === 0) return `${base}Z`;
  const sign = offsetMinutes > 0 ? "+" : "-";
  const abs = Math.abs(offsetMinutes);
  return `${base}${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
}

interface Column {
  /** model property */
  prop: string;
  /** column name as Debezium reports it */
  name: string;
  /** JsonConverter field schema without "field" */
  schema: { [key: string]: Json };
  encode: (v: unknown) => Json;
}

const str = (v: unknown): Json => (v === null ? null : String(v));
const int = (v: unknown): Json => (v === null ? null : Number(v));
const dbl = (v: unknown): Json => (v === null ? null : new JavaDouble(Number(v)));
const dec = (v: unknown): Json => (v === null ? null : decimalBytes(BigInt(v as bigint)));
const decimalSchema = (precision: number, scale: number): { [key: string]: Json } => ({
  type: "bytes",
  optional: false,
  name: "org.apache.kafka.connect.data.Decimal",
  version: 1,
  parameters: { scale: String(scale), "connect.decimal.precision": String(precision) },
});

interface TableDef {
  name: string;
  columns: Column[];
  /** primary-key columns in key order */
  key: Column[];
  /** Postgres REPLICA IDENTITY DEFAULT: updates carry no before image, unchanged TOAST values a placeholder */
  replicaIdentityDefault?: boolean;
  /** columns stored out of line (TOAST): an update that leaves them unchanged does not send them */
  toast?: string[];
}
interface Flavour {
  dir: string;
  prefix: string;
  schema: string;
  /** the captured tables of this database (a table missing here is not in it) */
  tables: Partial<Record<TableName, TableDef>>;
}

/** What Debezium puts where a value was not sent (unavailable.value.placeholder) */
const UNAVAILABLE = "__debezium_unavailable_value";

function postgresTables(): Flavour["tables"] {
  const serial: Column = {
    prop: "id",
    name: "id",
    schema: { type: "int32", optional: false, default: 0 },
    encode: int,
  };
  const c = (prop: string, schema: { [key: string]: Json }, encode: (v: unknown) => Json): Column => ({
    prop,
    name: prop,
    schema,
    encode,
  });
  const text = (prop: string, optional = false): Column => c(prop, { type: "string", optional }, str);
  const int32 = (prop: string): Column => c(prop, { type: "int32", optional: false }, int);
  const enumCol = (prop: string, allowed: string): Column =>
    c(
      prop,
      { type: "string", optional: false, name: "io.debezium.data.Enum", version: 1, parameters: { allowed } },
      str,
    );
  const intKey = (prop: string): Column => c(prop, { type: "int32", optional: false }, int);
  return {
    customers: {
      name: "customers",
      key: [serial],
      columns: [serial, text("first_name"), text("last_name"), text("email")],
    },
    addresses: {
      name: "addresses",
      key: [serial],
      columns: [
        serial,
        int32("customer_id"),
        text("street"),
        text("city"),
        text("state"),
        text("zip"),
        enumCol("type", "SHIPPING,BILLING,LIVING"),
      ],
    },
    products: {
      name: "products",
      key: [serial],
      columns: [
        serial,
        text("name"),
        text("description", true),
        c("weight", { type: "double", optional: true }, dbl),
        c("price", decimalSchema(10, 2), dec),
      ],
    },
    orders: {
      name: "orders",
      key: [serial],
      columns: [
        serial,
        c("order_date", { type: "int32", optional: false, name: "io.debezium.time.Date", version: 1 }, int),
        int32("purchaser"),
        int32("quantity"),
        int32("product_id"),
        enumCol("status", "NEW,PAID,SHIPPED,DELIVERED,CANCELLED"),
        c("amount", decimalSchema(12, 2), dec),
        c(
          "updated_at",
          { type: "string", optional: false, name: "io.debezium.time.ZonedTimestamp", version: 1 },
          (v) => zoned(v as bigint, 0),
        ),
      ],
    },
    order_lines: {
      name: "order_lines",
      key: [intKey("order_id"), intKey("line_no")],
      columns: [
        intKey("order_id"),
        intKey("line_no"),
        int32("product_id"),
        int32("quantity"),
        c("unit_price", decimalSchema(10, 2), dec),
      ],
    },
    product_details: {
      name: "product_details",
      key: [intKey("product_id")],
      columns: [intKey("product_id"), text("tagline"), text("long_description", true)],
      replicaIdentityDefault: true,
      toast: ["long_description"],
    },
  };
}

/** Oracle session time zone of the application: Europe/Berlin, +01:00 before 2024-03-31. */
const ORACLE_TZ_OFFSET_MINUTES = 60;

function oracleTables(): Flavour["tables"] {
  const c = (prop: string, schema: { [key: string]: Json }, encode: (v: unknown) => Json): Column => ({
    prop,
    name: prop.toUpperCase(),
    schema,
    encode,
  });
  const id = c("id", { type: "int32", optional: false }, int);
  const text = (prop: string, optional = false): Column => c(prop, { type: "string", optional }, str);
  const number9 = (prop: string): Column => c(prop, { type: "int32", optional: false }, int);
  const number9Key = (prop: string): Column => c(prop, { type: "int32", optional: false }, int);
  return {
    customers: {
      name: "CUSTOMERS",
      key: [id],
      columns: [id, text("first_name"), text("last_name"), text("email"), text("ctry_cd", true)],
    },
    addresses: {
      name: "ADDRESSES",
      key: [id],
      columns: [
        id,
        number9("customer_id"),
        text("street"),
        text("city"),
        text("state"),
        text("zip"),
        text("type"),
      ],
    },
    products: {
      name: "PRODUCTS",
      key: [id],
      columns: [
        id,
        text("name"),
        text("description", true),
        c("weight", { type: "double", optional: true }, dbl),
        c("price", decimalSchema(10, 2), dec),
      ],
    },
    orders: {
      name: "ORDERS",
      key: [id],
      columns: [
        id,
        // DATE → io.debezium.time.Timestamp: wall-clock milliseconds (midnight) read as UTC
        c(
          "order_date",
          { type: "int64", optional: false, name: "io.debezium.time.Timestamp", version: 1 },
          (v) => BigInt(v as number) * 86_400_000n,
        ),
        number9("purchaser"),
        // NUMBER(4): precision 4 < 5 → int16
        c("quantity", { type: "int16", optional: false }, int),
        number9("product_id"),
        text("status"),
        c("amount", decimalSchema(12, 2), dec),
        c(
          "updated_at",
          { type: "string", optional: false, name: "io.debezium.time.ZonedTimestamp", version: 1 },
          (v) => zoned(v as bigint, ORACLE_TZ_OFFSET_MINUTES),
        ),
      ],
    },
    order_lines: {
      name: "ORDER_LINES",
      key: [number9Key("order_id"), c("line_no", { type: "int16", optional: false }, int)],
      columns: [
        number9Key("order_id"),
        // NUMBER(3): int16
        c("line_no", { type: "int16", optional: false }, int),
        number9("product_id"),
        c("quantity", { type: "int16", optional: false }, int),
        c("unit_price", decimalSchema(10, 2), dec),
      ],
    },
    code_translations: {
      name: "CODE_TRANSLATIONS",
      key: [text("code_type"), text("code")],
      columns: [text("code_type"), text("code"), text("label")],
    },
  };
}

const SNAPSHOT_ENUM: { [key: string]: Json } = {
  type: "string",
  optional: true,
  name: "io.debezium.data.Enum",
  version: 1,
  parameters: {
    allowed: "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
  },
  default: "false",
  field: "snapshot",
};
const f = (type: string, optional: boolean, field: string): { [key: string]: Json } => ({
  type,
  optional,
  field,
});

const COMMON_SOURCE_FIELDS: Json[] = [
  f("string", false, "version"),
  f("string", false, "connector"),
  f("string", false, "name"),
  f("int64", false, "ts_ms"),
  SNAPSHOT_ENUM,
  f("string", false, "db"),
  f("string", true, "sequence"),
  f("int64", true, "ts_us"),
  f("int64", true, "ts_ns"),
  f("string", false, "schema"),
  f("string", false, "table"),
];
const PG_SOURCE_SCHEMA: { [key: string]: Json } = {
  type: "struct",
  fields: [
    ...COMMON_SOURCE_FIELDS,
    f("int64", true, "txId"),
    f("int64", true, "lsn"),
    f("int64", true, "xmin"),
    f("string", true, "origin"),
    f("int64", true, "origin_lsn"),
  ],
  optional: false,
  name: "io.debezium.connector.postgresql.Source",
  version: 1,
  field: "source",
};
const ORACLE_SOURCE_SCHEMA: { [key: string]: Json } = {
  type: "struct",
  fields: [
    ...COMMON_SOURCE_FIELDS,
    f("string", true, "txId"),
    f("string", true, "scn"),
    f("string", true, "commit_scn"),
    f("string", true, "lcr_position"),
    f("string", true, "rs_id"),
    f("int64", true, "ssn"),
    f("int32", true, "redo_thread"),
    f("string", true, "user_name"),
    f("string", true, "redo_sql"),
    f("string", true, "row_id"),
    f("int64", true, "commit_ts_ms"),
    f("string", true, "start_scn"),
    f("int64", true, "start_ts_ms"),
    f("int64", true, "txSeq"),
  ],
  optional: false,
  name: "io.debezium.connector.oracle.Source",
  version: 1,
  field: "source",
};
const TX_BLOCK_SCHEMA: { [key: string]: Json } = {
  type: "struct",
  fields: [
    f("string", false, "id"),
    f("int64", false, "total_order"),
    f("int64", false, "data_collection_order"),
  ],
  optional: true,
  name: "event.block",
  version: 1,
  field: "transaction",
};
const TX_KEY_SCHEMA: Json = {
  type: "struct",
  fields: [f("string", false, "id")],
  optional: false,
  name: "io.debezium.connector.common.TransactionMetadataKey",
  version: 1,
};
const TX_VALUE_SCHEMA: Json = {
  type: "struct",
  fields: [
    f("string", false, "status"),
    f("string", false, "id"),
    f("int64", true, "event_count"),
    {
      type: "array",
      items: {
        type: "struct",
        fields: [f("string", false, "data_collection"), f("int64", false, "event_count")],
        optional: true,
        name: "event.collection",
        version: 1,
      },
      optional: true,
      field: "data_collections",
    },
    f("int64", false, "ts_ms"),
  ],
  optional: false,
  name: "io.debezium.connector.common.TransactionMetadataValue",
  version: 1,
};
const HEARTBEAT_KEY_SCHEMA: Json = {
  type: "struct",
  fields: [f("string", false, "serverName")],
  optional: false,
  name: "io.debezium.connector.common.ServerNameKey",
  version: 1,
};
const HEARTBEAT_VALUE_SCHEMA: Json = {
  type: "struct",
  fields: [f("int64", false, "ts_ms")],
  optional: false,
  name: "io.debezium.connector.common.Heartbeat",
  version: 1,
};

/** One Kafka topic's kcat -J lines. */
class TopicWriter {
  readonly lines = new Map<string, string[]>();
  private readonly offsets = new Map<string, number>();
  write(
    topic: string,
    tsMs: bigint,
    key: Json | undefined,
    value: Json | undefined,
    headers: [string, string][] = [],
  ): void {
    const offset = this.offsets.get(topic) ?? 0;
    this.offsets.set(topic, offset + 1);
    const line = toJson({
      topic,
      partition: 0,
      offset,
      tstype: "create",
      ts: tsMs,
      broker: 1,
      headers: headers.flat(),
      key: key === undefined ? null : toJson(key),
      payload: value === undefined ? null : toJson(value),
    });
    const list = this.lines.get(topic) ?? [];
    list.push(line);
    this.lines.set(topic, list);
  }
}

interface SourcePosition {
  /** source block fields after the common ones */
  specific: { [key: string]: Json };
  tsUs: bigint;
  snapshot: string;
  sequence: string | null;
}

/** Renders the simulation for one connector flavour. */
function render(
  sim: Simulation,
  flavour: Flavour,
  connector: "postgresql" | "oracle",
  withTransactionTopic: boolean,
): TopicWriter {
  const out = new TopicWriter();
  const rng = new Rng(connector === "postgresql" ? 0x5eed0001 : 0x5eed0002);
  // the additions (Change.extra, Tx.extra) draw from their own stream, so the original records keep theirs
  const rng2 = new Rng(connector === "postgresql" ? 0x5eed1001 : 0x5eed1002);
  const tableOf = (t: TableName): TableDef => {
    const def = flavour.tables[t];
    if (def === undefined) throw new Error(`table ${t} is not captured in ${flavour.dir}`);
    return def;
  };
  const captured = (ch: { table: TableName; only?: Change["only"] }): boolean =>
    flavour.tables[ch.table] !== undefined && (ch.only === undefined || ch.only === connector);
  const topicOf = (t: TableName): string => `${flavour.prefix}.${flavour.schema}.${tableOf(t).name}`;
  const db = connector === "postgresql" ? "postgres" : "ORCLPDB1";
  const sourceSchema = connector === "postgresql" ? PG_SOURCE_SCHEMA : ORACLE_SOURCE_SCHEMA;
  const prop = (row: AnyRow, name: string): unknown =>
    (row as unknown as Record<string, unknown>)[name] ?? null;

  const keyPayload = (t: TableName, row: AnyRow): { [key: string]: Json } => {
    const o: { [key: string]: Json } = {};
    for (const kc of tableOf(t).key) o[kc.name] = kc.encode(prop(row, kc.prop));
    return o;
  };
  const keyOf = (t: TableName, row: AnyRow): Json => ({
    schema: {
      type: "struct",
      fields: tableOf(t).key.map((kc) => ({ ...kc.schema, field: kc.name })),
      optional: false,
      name: `${topicOf(t)}.Key`,
    },
    payload: keyPayload(t, row),
  });
  const envelopeSchema = (t: TableName): Json => {
    const table = tableOf(t);
    const valueStruct = (field: string): Json => ({
      type: "struct",
      fields: table.columns.map((c) => ({ ...c.schema, field: c.name })),
      optional: true,
      name: `${topicOf(t)}.Value`,
      field,
    });
    return {
      type: "struct",
      fields: [
        valueStruct("before"),
        valueStruct("after"),
        sourceSchema,
        TX_BLOCK_SCHEMA,
        f("string", false, "op"),
        f("int64", true, "ts_ms"),
        f("int64", true, "ts_us"),
        f("int64", true, "ts_ns"),
      ],
      optional: false,
      name: `${topicOf(t)}.Envelope`,
      version: 2,
    };
  };
  const schemas = new Map<TableName, Json>();
  const envelopeSchemaCached = (t: TableName): Json => {
    let s = schemas.get(t);
    if (s === undefined) {
      s = envelopeSchema(t);
      schemas.set(t, s);
    }
    return s;
  };
  const rowJson = (t: TableName, row: AnyRow | null, unchanged: ReadonlySet<string> = new Set()): Json => {
    if (row === null) return null;
    const o: { [key: string]: Json } = {};
    for (const c of tableOf(t).columns)
      o[c.name] = unchanged.has(c.prop) ? UNAVAILABLE : c.encode(prop(row, c.prop));
    return o;
  };
  /** the images Debezium sends: under REPLICA IDENTITY DEFAULT an update has no before, unchanged TOAST a placeholder */
  const images = (t: TableName, op: string, before: AnyRow | null, after: AnyRow | null): [Json, Json] => {
    const table = tableOf(t);
    if (connector !== "postgresql" || !table.replicaIdentityDefault || op !== "u" || before === null) {
      return [rowJson(t, before), rowJson(t, after)];
    }
    const unchanged = new Set(
      (table.toast ?? []).filter((c) => after !== null && prop(before, c) === prop(after, c)),
    );
    return [null, rowJson(t, after, unchanged)];
  };

  // envelope processing time runs a little behind the source
  let processedUs = 0n;
  let processedUs2 = 0n;
  const processed = (sourceUs: bigint, r: Rng): bigint => {
    const candidate = sourceUs + BigInt(r.int(120_000, 480_000)) + BigInt(r.int(0, 999));
    if (r === rng) {
      processedUs = candidate > processedUs ? candidate : processedUs + BigInt(r.int(300, 1_500));
      return processedUs;
    }
    processedUs2 = candidate > processedUs2 ? candidate : processedUs2 + BigInt(r.int(300, 1_500));
    return processedUs2;
  };
  const dataRecord = (
    t: TableName,
    op: "r" | "c" | "u" | "d",
    before: AnyRow | null,
    after: AnyRow | null,
    pos: SourcePosition,
    txBlock: Json,
    r: Rng = rng,
    headers: [string, string][] = [],
  ): void => {
    const tsMs = pos.tsUs / 1000n;
    const env = processed(pos.tsUs, r);
    const envNs = env * 1000n + BigInt(r.int(0, 999));
    const row = (after ?? before) as AnyRow;
    const [beforeJson, afterJson] = images(t, op, before, after);
    const value: Json = {
      schema: envelopeSchemaCached(t),
      payload: {
        before: beforeJson,
        after: afterJson,
        source: {
          version: "3.6.1.Final",
          connector,
          name: flavour.prefix,
          ts_ms: tsMs,
          snapshot: pos.snapshot,
          db,
          sequence: pos.sequence,
          ts_us: pos.tsUs,
          ts_ns: pos.tsUs * 1000n,
          schema: flavour.schema,
          table: tableOf(t).name,
          ...pos.specific,
        },
        transaction: txBlock,
        op,
        ts_ms: env / 1000n,
        ts_us: env,
        ts_ns: envNs,
      },
    };
    const kafkaTs = env / 1000n + BigInt(r.int(1, 25));
    out.write(topicOf(t), kafkaTs, keyOf(t, row), value, headers);
    if (op === "d") out.write(topicOf(t), kafkaTs, keyOf(t, row), undefined, headers);
  };
  const isKeyChange = (ch: Change): boolean =>
    ch.op === "u" &&
    ch.before !== null &&
    ch.after !== null &&
    toJson(keyPayload(ch.table, ch.before)) !== toJson(keyPayload(ch.table, ch.after));
  /** how many data events a change becomes (a primary-key change: a delete and a create) */
  const eventsOf = (ch: Change): number => (isKeyChange(ch) ? 2 : 1);
  /**
   * One change as Debezium writes it. A primary-key update is a delete (header __debezium.newkey), its
   * tombstone and a create (header __debezium.oldkey), at the same source position; the header values are
   * the key structs as Kafka Connect's SimpleHeaderConverter writes a Struct (JSON text).
   */
  const changeRecords = (ch: Change, pos: SourcePosition, txBlock: (k: number) => Json, r: Rng): void => {
    if (!isKeyChange(ch)) {
      dataRecord(ch.table, ch.op, ch.before, ch.after, pos, txBlock(0), r);
      return;
    }
    const before = ch.before as AnyRow;
    const after = ch.after as AnyRow;
    const oldKey = toJson(keyPayload(ch.table, before));
    const newKey = toJson(keyPayload(ch.table, after));
    // the tombstone of the delete half carries the same header (Debezium copies the record's headers)
    dataRecord(ch.table, "d", before, null, pos, txBlock(0), r, [["__debezium.newkey", newKey]]);
    dataRecord(ch.table, "c", null, after, pos, txBlock(1), r, [["__debezium.oldkey", oldKey]]);
  };

  const heartbeatTopic = `__debezium-heartbeat.${flavour.prefix}`;
  const heartbeatMs = 60_000n;
  let nextHeartbeat = (sim.snapshotUs / 1000n / heartbeatMs + 1n) * heartbeatMs;
  const heartbeatsUntil = (us: bigint): void => {
    while (nextHeartbeat * 1000n <= us) {
      const ts = nextHeartbeat + BigInt(rng.int(2, 40));
      out.write(
        heartbeatTopic,
        ts + 1n,
        { schema: HEARTBEAT_KEY_SCHEMA, payload: { serverName: flavour.prefix } },
        { schema: HEARTBEAT_VALUE_SCHEMA, payload: { ts_ms: ts } },
      );
      nextHeartbeat += heartbeatMs;
    }
  };
  const txTopic = `${flavour.prefix}.transaction`;
  const txMarker = (
    status: "BEGIN" | "END",
    id: string,
    tsMs: bigint,
    counts: Map<TableName, number> | null,
  ): void => {
    if (!withTransactionTopic) return;
    const total = counts === null ? null : BigInt([...counts.values()].reduce((s, n) => s + n, 0));
    const collections: Json =
      counts === null
        ? null
        : [...counts.entries()].map(([t, n]) => ({
            data_collection:
              connector === "postgresql"
                ? `${flavour.schema}.${tableOf(t).name}`
                : `${db}.${flavour.schema}.${tableOf(t).name}`,
            event_count: BigInt(n),
          }));
    out.write(
      txTopic,
      tsMs + BigInt(rng2.int(150, 450)),
      { schema: TX_KEY_SCHEMA, payload: { id } },
      {
        schema: TX_VALUE_SCHEMA,
        payload: { status, id, event_count: total, data_collections: collections, ts_ms: tsMs },
      },
    );
  };

  // --- snapshot -------------------------------------------------------------------------------
  const snapshotRows = sim.snapshot
    .filter(({ table }) => captured({ table }))
    .flatMap(({ table, rows }) => rows.map((row, i) => ({ table, row, i, n: rows.length })));
  const originalSnapshot = new Set<TableName>(["addresses", "customers", "orders", "products"]);
  // Postgres: one snapshot transaction/LSN; Oracle: the flashback SCN
  let lsn = 34_078_720n;
  let txId = 767n;
  let scn = 2_122_180n;
  snapshotRows.forEach(({ table, row, i, n }, k) => {
    const marker =
      k === 0
        ? "first"
        : k === snapshotRows.length - 1
          ? "last"
          : i === 0
            ? "first_in_data_collection"
            : i === n - 1
              ? "last_in_data_collection"
              : "true";
    const pos: SourcePosition =
      connector === "postgresql"
        ? {
            tsUs: sim.snapshotUs,
            snapshot: marker,
            sequence: `[null,"${lsn}"]`,
            specific: { txId, lsn, xmin: null, origin: null, origin_lsn: null },
          }
        : {
            tsUs: (sim.snapshotUs / 1_000_000n) * 1_000_000n,
            snapshot: marker,
            sequence: null,
            specific: oracleSpecific({ scn: String(scn), ssn: 0n }),
          };
    dataRecord(table, "r", null, row, pos, null, originalSnapshot.has(table) ? rng : rng2);
  });

  // --- streaming --------------------------------------------------------------------------------
  let lastCommitLsn = lsn;
  const rowIds = new Map<string, string>();
  let rowSlot = 0;
  let rowSlot2 = 0;
  let redoBlock = 0x4a1;
  let logSeq = 0x0e;
  const OBJECTS: Record<TableName, string> = {
    customers: "AAASgj",
    addresses: "AAASgk",
    products: "AAASgl",
    orders: "AAASgm",
    order_lines: "AAASgn",
    product_details: "AAASgo",
    code_translations: "AAASgp",
  };
  const rowIdOf = (t: TableName, row: AnyRow): string => {
    const k = `${t}:${toJson(keyPayload(t, row))}`;
    let r = rowIds.get(k);
    if (r === undefined) {
      // the original tables keep their original row-id sequence
      const original = originalSnapshot.has(t);
      const slot = original ? rowSlot++ : rowSlot2++;
      const block = (original ? 0xa7 : 0x3a7) + Math.floor(slot / 60);
      r = `${OBJECTS[t]}AAM${oracleBase64(block, 6)}${oracleBase64(slot % 60, 3)}`;
      rowIds.set(k, r);
    }
    return r;
  };
  if (connector === "oracle")
    for (const s of sim.snapshot) if (captured(s)) for (const row of s.rows) rowIdOf(s.table, row);

  for (const tx of sim.txs) {
    const changes = tx.changes.filter(captured);
    if (changes.length === 0) continue;
    heartbeatsUntil(tx.commitUs);
    // the original changes draw from rng in the original order; additions and the epilogue from rng2
    const r = tx.extra ? rng2 : rng;
    const originals = changes.filter((ch) => !ch.extra);
    const additions = changes.filter((ch) => ch.extra);
    const main = tx.extra ? additions : originals;
    const appended = tx.extra ? [] : additions;
    const counts = new Map<TableName, number>();
    for (const ch of changes) counts.set(ch.table, (counts.get(ch.table) ?? 0) + eventsOf(ch));
    const perTable = new Map<TableName, number>();
    let totalOrder = 0;
    /** the transaction block of the k-th data event of a change (a primary-key change has two) */
    const block =
      (id: (k: number) => string, ch: Change) =>
      (k: number): Json => {
        totalOrder++;
        const order = (perTable.get(ch.table) ?? 0) + 1;
        perTable.set(ch.table, order);
        return { id: id(k), total_order: BigInt(totalOrder), data_collection_order: BigInt(order) };
      };

    if (connector === "postgresql") {
      txId += r.chance(0.1) ? BigInt(r.int(2, 4)) : 1n;
      const beginLsn = lastCommitLsn + BigInt(r.int(4, 40) * 8);
      const commitTsUs = tx.commitUs;
      txMarker("BEGIN", `${txId}:${beginLsn}`, commitTsUs / 1000n, null);
      lsn = beginLsn;
      const pgPos = (at: bigint): SourcePosition => ({
        tsUs: commitTsUs,
        snapshot: "false",
        sequence: `["${lastCommitLsn}","${at}"]`,
        specific: { txId, lsn: at, xmin: null, origin: null, origin_lsn: null },
      });
      for (const ch of main) {
        lsn += BigInt(r.int(12, 60) * 8);
        const at = lsn;
        changeRecords(
          ch,
          pgPos(at),
          block(() => `${txId}:${at}`, ch),
          r,
        );
      }
      const commitLsn = lsn + BigInt(r.int(6, 30) * 8);
      // additions to an original transaction sit between its last original change and its commit
      appended.forEach((ch, k) => {
        const at = lsn + BigInt((k + 1) * 8);
        if (at >= commitLsn) throw new Error("an added change does not fit before the commit LSN");
        changeRecords(
          ch,
          pgPos(at),
          block(() => `${txId}:${at}`, ch),
          rng2,
        );
      });
      txMarker("END", `${txId}:${commitLsn}`, commitTsUs / 1000n, counts);
      lastCommitLsn = commitLsn;
    } else {
      const xid = `${hex(r.int(1, 10), 2)}00${hex(r.int(0, 33), 2)}00${hex(r.int(0x400, 0xbff), 4, true)}0000`;
      const secs = (us: bigint): bigint => (us / 1_000_000n) * 1000n;
      const startTsMs = secs(tx.startUs);
      const commitTsMs = secs(tx.commitUs);
      const startScn = scn + BigInt(r.int(3, 400));
      scn = startScn;
      txMarker("BEGIN", xid, commitTsMs, null);
      const changeScns: bigint[] = [];
      main.forEach((_, i) => {
        if (i > 0) scn += BigInt(r.int(0, 3));
        changeScns.push(scn);
      });
      const commitScn = scn + BigInt(r.int(1, 3));
      const oraPos = (ch: Change, i: number, at: bigint, rsId: string, changeUs: bigint): SourcePosition => ({
        tsUs: secs(changeUs) * 1000n,
        snapshot: "false",
        sequence: null,
        specific: oracleSpecific({
          txId: xid,
          scn: String(at),
          commit_scn: String(commitScn),
          rs_id: rsId,
          ssn: 0n,
          redo_thread: 1,
          user_name: "INVENTORY",
          row_id: rowIdOf(ch.table, (ch.before ?? ch.after) as AnyRow),
          commit_ts_ms: commitTsMs,
          start_scn: String(startScn),
          start_ts_ms: startTsMs,
          txSeq: BigInt(i + 1),
        }),
      });
      main.forEach((ch, i) => {
        redoBlock += r.int(1, 6);
        if (redoBlock > 0x1fff0) {
          redoBlock = 0x20;
          logSeq++;
        }
        const changeUs = tx.startUs + BigInt(i) * BigInt(r.int(200, 2_000));
        const rsId = `0x${hex(logSeq, 6)}.${hex(redoBlock, 8)}.${hex(r.pick([0x10, 0x10, 0x164, 0x1cc]), 4)}`;
        changeRecords(
          ch,
          oraPos(ch, i, changeScns[i] as bigint, rsId, changeUs),
          block(() => xid, ch),
          r,
        );
      });
      // additions to an original transaction: redo records after its last original change, at its SCN
      appended.forEach((ch, k) => {
        const i = main.length + k;
        const changeUs = tx.startUs + BigInt(i) * BigInt(rng2.int(200, 2_000));
        const rsId = `0x${hex(logSeq, 6)}.${hex(redoBlock, 8)}.${hex(0x1e0 + 0x10 * k, 4)}`;
        changeRecords(
          ch,
          oraPos(ch, i, scn, rsId, changeUs),
          block(() => xid, ch),
          rng2,
        );
      });
      scn = commitScn;
      txMarker("END", xid, commitTsMs, counts);
    }
  }
  heartbeatsUntil(sim.endUs);
  return out;
}

function oracleSpecific(v: { [key: string]: Json }): { [key: string]: Json } {
  return {
    txId: null,
    scn: null,
    commit_scn: null,
    lcr_position: null,
    rs_id: null,
    ssn: 0n,
    redo_thread: null,
    user_name: null,
    redo_sql: null,
    row_id: null,
    commit_ts_ms: null,
    start_scn: null,
    start_ts_ms: null,
    txSeq: null,
    ...v,
  };
}

function hex(n: number, width: number, littleEndian = false): string {
  const h = n.toString(16).padStart(width, "0");
  if (!littleEndian) return h;
  return (h.match(/../g) ?? []).reverse().join("");
}

const ORACLE_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function oracleBase64(n: number, width: number): string {
  let s = "";
  let v = n;
  for (let i = 0; i < width; i++) {
    s = (ORACLE_B64[v % 64] ?? "A") + s;
    v = Math.floor(v / 64);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// The new tables' seed rows in the database init scripts (docker/*/inventory.sql), between markers, so the
// database and the captured snapshot hold the same rows.

const sqlText = (v: string): string => `'${v.replace(/'/g, "''")}'`;
const money = (cents: bigint): string => `${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
const SEED_BEGIN =
  "-- BEGIN seed rows of the stateful-feature tables (generated by scripts/generate-captures.ts)";
const SEED_END = "-- END generated seed rows";

function seedSql(sim: Simulation, connector: "postgresql" | "oracle"): string {
  const rows = <T extends TableName>(t: T): RowOf[T][] =>
    (sim.snapshot.find((s) => s.table === t)?.rows ?? []) as RowOf[T][];
  const out: string[] = [];
  if (connector === "postgresql") {
    out.push(
      "INSERT INTO inventory.order_lines (order_id, line_no, product_id, quantity, unit_price) VALUES",
      rows("order_lines")
        .map((l) => `  (${l.order_id}, ${l.line_no}, ${l.product_id}, ${l.quantity}, ${money(l.unit_price)})`)
        .join(",\n") + ";",
      "INSERT INTO inventory.product_details (product_id, tagline, long_description) VALUES",
      rows("product_details")
        .map((d) => `  (${d.product_id}, ${sqlText(d.tagline)},\n   ${sqlText(d.long_description)})`)
        .join(",\n") + ";",
    );
  } else {
    out.push("UPDATE INVENTORY.CUSTOMERS SET CTRY_CD = 'US';");
    for (const c of rows("code_translations"))
      out.push(
        `INSERT INTO INVENTORY.CODE_TRANSLATIONS (CODE_TYPE, CODE, LABEL) VALUES (${sqlText(c.code_type)}, ${sqlText(c.code)}, ${sqlText(c.label)});`,
      );
    for (const l of rows("order_lines"))
      out.push(
        `INSERT INTO INVENTORY.ORDER_LINES (ORDER_ID, LINE_NO, PRODUCT_ID, QUANTITY, UNIT_PRICE) VALUES (${l.order_id}, ${l.line_no}, ${l.product_id}, ${l.quantity}, ${money(l.unit_price)});`,
      );
  }
  return out.join("\n");
}

function writeSeedSql(root: string, sim: Simulation): void {
  for (const [file, connector] of [
    ["docker/postgres/inventory.sql", "postgresql"],
    ["docker/oracle/inventory.sql", "oracle"],
  ] as const) {
    const path = join(root, file);
    const text = readFileSync(path, "utf8");
    const a = text.indexOf(SEED_BEGIN);
    const b = text.indexOf(SEED_END);
    if (a < 0 || b < a) throw new Error(`${file}: the markers of the generated seed rows are missing`);
    writeFileSync(
      path,
      `${text.slice(0, a + SEED_BEGIN.length)}\n${seedSql(sim, connector)}\n${text.slice(b)}`,
    );
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const outDir = resolve(opt("--out") ?? join(root, "captures"));
  // the database init scripts follow the committed captures only
  const writeSeeds = opt("--out") === undefined;
  const target = Number(opt("--changes") ?? "1750");
  // The <prefix>.transaction topic (BEGIN/END markers, provide.transaction.metadata=true) is what transaction
  // aggregates complete on; --without-transaction-topic leaves it out (the data events keep their block).
  const withTransactionTopic = !args.includes("--without-transaction-topic");

  const sim = simulate(target);
  extend(sim);
  const flavours: [Flavour, "postgresql" | "oracle"][] = [
    [{ dir: "postgres", prefix: "dbserver1", schema: "inventory", tables: postgresTables() }, "postgresql"],
    [{ dir: "oracle", prefix: "server1", schema: "INVENTORY", tables: oracleTables() }, "oracle"],
  ];
  for (const [flavour, connector] of flavours) {
    const dir = join(outDir, flavour.dir);
    mkdirSync(dir, { recursive: true });
    for (const old of readdirSync(dir)) if (old.endsWith(".jsonl")) rmSync(join(dir, old));
    const out = render(sim, flavour, connector, withTransactionTopic);
    for (const [topic, lines] of out.lines) {
      writeFileSync(join(dir, `${topic}.jsonl`), `${lines.join("\n")}\n`);
      console.log(`${flavour.dir}/${topic}.jsonl: ${lines.length} records`);
    }
  }
  if (writeSeeds) writeSeedSql(root, sim);
  const ops = new Map<string, number>();
  const actions = new Map<string, number>();
  for (const tx of sim.txs)
    for (const ch of tx.changes) {
      ops.set(`${ch.table} ${ch.op}`, (ops.get(`${ch.table} ${ch.op}`) ?? 0) + 1);
      actions.set(ch.action, (actions.get(ch.action) ?? 0) + 1);
    }
  const snapshotRows = sim.snapshot.reduce((s, t) => s + t.rows.length, 0);
  const changes = sim.txs.reduce((s, t) => s + t.changes.length, 0);
  console.log(`snapshot rows: ${snapshotRows}; transactions: ${sim.txs.length}; row changes: ${changes}`);
  for (const [k, n] of [...ops].sort()) console.log(`  ${k}: ${n}`);
  for (const [k, n] of [...actions].sort()) console.log(`  ${k}: ${n}`);
}

main();
