export { forbiddenEverywhere, forbiddenUsesIn, scanForImpurities, type ForbiddenUse } from './purity-scan.js';
