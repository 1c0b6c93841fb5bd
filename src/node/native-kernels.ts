/** The native kernels now live in ./native/ (one file per concern); this path stays importable. */
export * from './native/index';
