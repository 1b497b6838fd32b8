export async function runScale(..._a: unknown[]) {}
