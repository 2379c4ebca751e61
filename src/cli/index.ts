export { main, usage } from './main.js';
export { exitCodes } from './exit-codes.js';
