// Runs before every test file (vitest.config.ts setupFiles): once the file is done, after its own afterAll hooks
// (hooks run in stack order, and this one was registered first), the temp dirs it made with tempDir() go.
import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/temp-dir.js';

afterAll(removeTempDirs);
