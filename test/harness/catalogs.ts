/** Catalogs several test files share. */

/** One PostgreSQL system, `orders-db` at `${ORDERS_DATABASE_URL}`, deleting the subject's rows of `orders` by e-mail. */
export const ordersCatalog = `
systems:
  - id: orders-db
    kind: postgres
    connection: \${ORDERS_DATABASE_URL}
    tables:
      - { table: orders, match: { column: email, identifier: email }, action: delete }
`;
