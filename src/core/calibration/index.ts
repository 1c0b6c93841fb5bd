export * from './fit';
export * from './schema';
export * from './score';
