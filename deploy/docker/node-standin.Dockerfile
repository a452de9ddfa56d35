# A stand-in for node:20-slim where no registry can be reached: Debian's
# minimal root file system (debian:bookworm-slim, itself a stand-in then)
# plus the npm registry's Node 20 binary and npm, laid out as the official
# image lays them out. scripts/docker-images.sh prepares the build context.
FROM debian:bookworm-slim
COPY usr/local/ /usr/local/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
CMD ["node"]
